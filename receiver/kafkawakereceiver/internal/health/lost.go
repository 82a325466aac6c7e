package health

import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/offset"

// Losses counts the messages retention (or DeleteRecords) removed before a
// binding's group read them: on a partition with a commit C below the log
// start LS, the offsets [C, LS) are lost. Each offset counts once however
// many observations see it.
type Losses struct {
	// accounted is, per partition seen, the offset below which every loss
	// was counted or taken as the baseline.
	accounted offset.Table
	total     int64
}

// Loss is a partition's newly lost messages in one observation.
type Loss struct {
	Partition int32
	Messages  int64
	// Baseline is set for a loss that already existed when the partition
	// was first observed (at a binding's first observation, or when it was
	// added): logged, not counted.
	Baseline bool
}

// Observe adds one complete read of the binding's partitions and returns
// the messages lost since its first observation, and the losses this
// observation found. A group without a commit on a partition loses nothing
// there: it has no position yet.
func (l *Losses) Observe(partitions offset.Partitions) (total int64, found []Loss) {
	l.accounted.Grow(partitions.Len())
	for p, o := range partitions.All() {
		accounted, seen := l.accounted.Get(p)
		if seen && o.LogStart < accounted {
			// The log starts over (topic re-created): so do its losses.
			accounted = o.LogStart
		}
		committed := o.Committed != offset.NoCommit && o.Committed <= o.HighWatermark
		switch {
		case !committed:
			// Deleted while the group had no position: not lost to it.
		case !seen:
			if n := o.LogStart - o.Committed; n > 0 {
				found = append(found, Loss{Partition: p, Messages: n, Baseline: true})
			}
		default:
			if n := o.LogStart - max(o.Committed, accounted); n > 0 {
				l.total += n
				found = append(found, Loss{Partition: p, Messages: n})
			}
		}
		l.accounted.Set(p, max(accounted, o.LogStart))
	}
	l.accounted.Retain(partitions)
	return l.total, found
}

// Total is the messages lost since the binding's first observation.
func (l *Losses) Total() int64 { return l.total }
