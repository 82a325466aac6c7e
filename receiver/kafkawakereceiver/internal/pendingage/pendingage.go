// Package pendingage dates the oldest message each binding still has to
// read: from a bounded table of the high watermarks the receiver saw per
// partition (the estimate), or from the first pending record itself (fetch).
package pendingage // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/pendingage"

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/kafkaread"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/offset"
)

// pendingAge returns a binding's pending age at now in seconds: the maximum,
// over its partitions with pending messages, of the time since the first
// pending record was produced. It is 0 when nothing is pending, and unknown
// when any pending partition cannot be dated. Clocks that disagree (a
// producer's CreateTime ahead of the collector) give 0, never a negative age.
func pendingAge(now time.Time, pending []offset.PartitionRange, producedAt func(partition int32, pending offset.Range) (time.Time, bool)) (seconds float64, ok bool) {
	var oldest time.Duration
	for _, r := range pending {
		if r.Empty() {
			continue
		}
		at, ok := producedAt(r.Partition, r.Range)
		if !ok {
			return 0, false
		}
		oldest = max(oldest, now.Sub(at))
	}
	return oldest.Seconds(), true
}

// topicWatermarks are the tables of one topic's partitions, indexed by
// partition number; a partition without a table has an empty one.
type topicWatermarks struct {
	id         [16]byte
	partitions []watermarkTable
	// observedAt is when the topic was last observed (Unix nanoseconds):
	// the bindings that share the topic observe it once per scrape.
	observedAt int64
}

// watermarkHistory keeps a table per partition of the watched topics, shared
// by the bindings that read the same topic.
type watermarkHistory struct {
	topics map[string]*topicWatermarks
}

func newWatermarkHistory() *watermarkHistory {
	return &watermarkHistory{topics: map[string]*topicWatermarks{}}
}

// observe adds one read of a topic's high watermarks. A topic with a new ID
// was deleted and re-created, so its history restarts; partitions that are
// gone lose theirs. Reading the same topic twice at the same time is a no-op.
func (h *watermarkHistory) observe(now time.Time, topic string, id [16]byte, partitions offset.Partitions) {
	tw := h.topics[topic]
	if tw == nil || tw.id != id {
		tw = &topicWatermarks{id: id, partitions: make([]watermarkTable, partitions.Len())}
		h.topics[topic] = tw
	}
	if tw.observedAt == now.UnixNano() {
		return
	}
	tw.observedAt = now.UnixNano()
	added := 0
	for p, o := range partitions.All() {
		if p < 0 {
			continue
		}
		for int(p) >= len(tw.partitions) {
			tw.partitions = append(tw.partitions, watermarkTable{})
		}
		tw.partitions[p].add(o.HighWatermark, now)
		added++
	}
	if added == len(tw.partitions) {
		return // every table is a partition just read
	}
	for p := range tw.partitions {
		if _, ok := partitions.Get(int32(p)); !ok {
			tw.partitions[p] = watermarkTable{}
		}
	}
}

// producedAt estimates when the record at offset of a topic's partition was
// produced.
func (h *watermarkHistory) producedAt(topic string, partition int32, offset int64) (time.Time, bool) {
	return h.topics[topic].producedAt(partition, offset)
}

// producedAt estimates when the record at offset of one of the topic's
// partitions was produced; a topic never observed (nil) dates nothing.
func (tw *topicWatermarks) producedAt(partition int32, offset int64) (time.Time, bool) {
	if tw == nil {
		return time.Time{}, false
	}
	if partition < 0 || int(partition) >= len(tw.partitions) {
		return time.Time{}, false
	}
	return tw.partitions[partition].producedAt(offset)
}

// Ager owns the pending age of every binding: the high watermark history
// and, with method fetch, the reader of first pending records.
type Ager struct {
	history *watermarkHistory
	records *firstRecordReader // nil unless method fetch
}

// New returns the ager of a receiver. With fetch it reads first pending
// records through fetcher, and falls back to the estimate for what it
// cannot read.
func New(fetch, readCommitted bool, fetcher kafkaread.Fetcher, logger *zap.Logger) *Ager {
	a := &Ager{history: newWatermarkHistory()}
	if fetch {
		a.records = newFirstRecordReader(fetcher, readCommitted, logger)
	}
	return a
}

// Binding is one binding an observation read in full.
type Binding struct {
	Topic string
	// Partitions are its offsets: their high watermarks feed the history,
	// which takes a topic's once per observation, from the first binding
	// of the topic that has them. Later bindings of the topic may leave
	// them out.
	Partitions offset.Partitions
	// Ranges are its pending ranges; Aged is false when it has none that
	// can be dated (its group's commits are unknown), and it gets no age.
	Ranges []offset.PartitionRange
	Aged   bool
}

// Age is a binding's pending age in seconds, when it is known.
type Age struct {
	Seconds float64
	Known   bool
}

// Ages adds the observation's high watermarks to the history, reads the
// first pending records with method fetch, and returns each binding's age.
// The fetch method keeps the history too: it is the fallback for the
// partitions it cannot read.
func (a *Ager) Ages(ctx context.Context, now time.Time, layout kafkaread.Layout, bindings []Binding) []Age {
	for _, b := range bindings {
		if b.Partitions.Len() > 0 {
			a.history.observe(now, b.Topic, layout.TopicID(b.Topic), b.Partitions)
		}
	}
	var fetched map[offset.TopicPartition]fetchedRecord
	if a.records != nil {
		fetched = a.records.read(ctx, layout, firstPendingOffsets(bindings))
	}
	ages := make([]Age, len(bindings))
	for i, b := range bindings {
		if !b.Aged {
			continue
		}
		history := a.history.topics[b.Topic] // once per binding, not per partition
		ages[i].Seconds, ages[i].Known = pendingAge(now, b.Ranges, func(p int32, r offset.Range) (time.Time, bool) {
			// A record is exact only for the offset it was fetched from and
			// only if it is pending; anything else is estimated.
			if rec, ok := fetched[offset.TopicPartition{Topic: b.Topic, Partition: p}]; ok && rec.requested == r.From && rec.offset < r.To {
				return rec.timestamp, true
			}
			return history.producedAt(p, r.From)
		})
	}
	return ages
}

// firstPendingOffsets returns, per lagging partition, the lowest first
// pending offset of the bindings reading it: a Fetch holds a partition once,
// so bindings further ahead on the same partition get the estimate.
func firstPendingOffsets(bindings []Binding) map[offset.TopicPartition]int64 {
	firsts := map[offset.TopicPartition]int64{}
	for _, b := range bindings {
		if !b.Aged {
			continue
		}
		for _, r := range b.Ranges {
			if r.Empty() {
				continue
			}
			tp := offset.TopicPartition{Topic: b.Topic, Partition: r.Partition}
			if first, ok := firsts[tp]; !ok || r.From < first {
				firsts[tp] = r.From
			}
		}
	}
	return firsts
}
