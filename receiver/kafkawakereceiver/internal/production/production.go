// Package production counts the messages produced to a topic: the growth
// of its partitions' high watermarks, never negative and never phantom. One
// Counter per topic serves every binding of the topic, each counting from
// its own Baseline.
package production // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/production"

import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/offset"

// Counter follows one topic across observations. Only complete reads are
// fed to it.
type Counter struct {
	started bool
	topicID [16]byte
	// ends are the previous observation's high watermarks; an observation
	// replaces each partition's entry after reading it.
	ends  offset.Table
	total int64
}

// Observe adds one observation of the topic's partitions and returns the
// messages produced since the binding's first observation:
//   - the first observation is a baseline;
//   - a partition first seen later (added, or its topic created or
//     re-created since: a new topic ID) counts its retained messages, HW − LS;
//   - a partition seen before counts its high watermark's growth; one that
//     went backwards (truncated) counts 0 and continues from there.
//
// The log start never counts: DeleteRecords deletes, it does not produce.
func (c *Counter) Observe(topicID [16]byte, partitions offset.Partitions) int64 {
	recreated := c.started && topicID != c.topicID
	c.ends.Grow(partitions.Len())
	for p, o := range partitions.All() {
		prev, seen := c.ends.Get(p)
		c.ends.Set(p, o.HighWatermark)
		switch {
		case !c.started:
		case !seen || recreated:
			c.total += max(0, o.HighWatermark-o.LogStart)
		default:
			c.total += max(0, o.HighWatermark-prev)
		}
	}
	c.ends.Retain(partitions)
	c.started, c.topicID = true, topicID
	return c.total
}

// Baseline is one binding's share of its topic's Counter: the topic's count
// at the binding's first observation. A binding observed later than the
// topic, or not at every observation of it, counts the same messages as a
// Counter of its own would: those produced since its first observation.
type Baseline struct {
	started bool
	at      int64
}

// Since returns the messages produced since the binding's first
// observation, given the topic's total at this observation; the first call
// is the baseline and returns 0.
func (b *Baseline) Since(topicTotal int64) int64 {
	if !b.started {
		b.started, b.at = true, topicTotal
	}
	return topicTotal - b.at
}
