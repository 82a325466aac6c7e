package kafkawakereceiver // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver"

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// PendingAgeMethod says how the receiver dates the oldest pending message.
type PendingAgeMethod string

const (
	// PendingAgeEstimate dates offsets from the times the receiver saw the
	// high watermark pass them; it needs no permission beyond Describe.
	PendingAgeEstimate PendingAgeMethod = "estimate"
	// PendingAgeFetch reads the timestamp of the first pending record of each
	// lagging partition; it needs Read on the topics.
	PendingAgeFetch PendingAgeMethod = "fetch"
	// PendingAgeNone turns the pending age off.
	PendingAgeNone PendingAgeMethod = "none"
)

// PendingAgeConfig configures slimfaaskafka.pending_age.
type PendingAgeConfig struct {
	Method PendingAgeMethod `mapstructure:"method"`

	// prevent unkeyed literal initialization
	_ struct{}
}

func (c PendingAgeConfig) validate() []error {
	switch c.Method {
	case PendingAgeEstimate, PendingAgeFetch, PendingAgeNone:
		return nil
	default:
		return []error{fmt.Errorf("pending_age.method: must be %q, %q or %q, got %q", PendingAgeEstimate, PendingAgeFetch, PendingAgeNone, c.Method)}
	}
}

// partitionRange is one partition's pending range in one scrape.
type partitionRange struct {
	partition int32
	offsetRange
}

// pendingAge returns a binding's pending age at now in seconds: the maximum,
// over its partitions with pending messages, of the time since the first
// pending record was produced. It is 0 when nothing is pending, and unknown
// when any pending partition cannot be dated. Clocks that disagree (a
// producer's CreateTime ahead of the collector) give 0, never a negative age.
func pendingAge(now time.Time, pending []partitionRange, producedAt func(partition int32, pending offsetRange) (time.Time, bool)) (seconds float64, ok bool) {
	var oldest time.Duration
	for _, r := range pending {
		if r.empty() {
			continue
		}
		at, ok := producedAt(r.partition, r.offsetRange)
		if !ok {
			return 0, false
		}
		oldest = max(oldest, now.Sub(at))
	}
	return oldest.Seconds(), true
}

// topicWatermarks are the tables of one topic's partitions.
type topicWatermarks struct {
	id         [16]byte
	partitions map[int32]*watermarkTable
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
func (h *watermarkHistory) observe(now time.Time, topic string, id [16]byte, partitions map[int32]partitionOffsets) {
	tw := h.topics[topic]
	if tw == nil || tw.id != id {
		tw = &topicWatermarks{id: id, partitions: make(map[int32]*watermarkTable, len(partitions))}
		h.topics[topic] = tw
	}
	for p, o := range partitions {
		table := tw.partitions[p]
		if table == nil {
			table = &watermarkTable{}
			tw.partitions[p] = table
		}
		table.add(o.highWatermark, now)
	}
	if len(tw.partitions) == len(partitions) {
		return // every table is a partition just read
	}
	for p := range tw.partitions {
		if _, ok := partitions[p]; !ok {
			delete(tw.partitions, p)
		}
	}
}

// producedAt estimates when the record at offset of a topic's partition was
// produced.
func (h *watermarkHistory) producedAt(topic string, partition int32, offset int64) (time.Time, bool) {
	tw := h.topics[topic]
	if tw == nil {
		return time.Time{}, false
	}
	table := tw.partitions[partition]
	if table == nil {
		return time.Time{}, false
	}
	return table.producedAt(offset)
}

// pendingAger owns slimfaaskafka.pending_age: the high watermark history,
// the pending ranges of the scrape in progress and, with method fetch, the
// reader of first pending records.
type pendingAger struct {
	history  *watermarkHistory
	records  *firstRecordReader // nil unless method fetch
	ranges   [][]partitionRange // per binding, in the scrape in progress
	observed []bool             // per binding: it has a pending point in this scrape
}

// newPendingAger returns nil when the pending age is turned off, by its
// method or by disabling the metric.
func newPendingAger(cfg *Config, logger *zap.Logger) *pendingAger {
	if cfg.PendingAge.Method == PendingAgeNone || !cfg.Metrics.SlimfaaskafkaPendingAge.Enabled {
		return nil
	}
	a := &pendingAger{
		history:  newWatermarkHistory(),
		ranges:   make([][]partitionRange, len(cfg.Bindings)),
		observed: make([]bool, len(cfg.Bindings)),
	}
	if cfg.PendingAge.Method == PendingAgeFetch {
		a.records = newFirstRecordReader(cfg.IsolationLevel == IsolationReadCommitted, logger)
	}
	return a
}

// startScrape forgets the previous scrape's ranges and adds the high
// watermarks of every binding read in full to the history. The fetch method
// keeps the history too: it is the fallback for partitions it cannot read.
func (a *pendingAger) startScrape(now time.Time, layout topicLayout, bindings []BindingConfig, observed []int, reads []bindingOffsets, readErrs []error) {
	for i := range bindings {
		a.ranges[i] = a.ranges[i][:0]
		a.observed[i] = false
	}
	// Only the bindings this scrape read: another replica's binding has no
	// read, which must not look like a topic without partitions.
	for _, i := range observed {
		if readErrs[i] == nil {
			b := bindings[i]
			a.history.observe(now, b.Topic, layout.ids[b.Topic], reads[i].partitions)
		}
	}
}

// collect returns the callback that keeps binding i's pending ranges, which
// also marks the binding as having a pending point in this scrape.
func (a *pendingAger) collect(i int) func(int32, offsetRange) {
	a.observed[i] = true
	return func(p int32, r offsetRange) {
		a.ranges[i] = append(a.ranges[i], partitionRange{partition: p, offsetRange: r})
	}
}

// ages returns, per binding, its pending age in seconds and whether it is
// known; a binding without a pending point in this scrape has none.
func (a *pendingAger) ages(ctx context.Context, now time.Time, layout topicLayout, bindings []BindingConfig) (seconds []float64, known []bool) {
	var fetched map[topicPartition]fetchedRecord
	if a.records != nil {
		fetched = a.records.read(ctx, layout, a.firstPendingOffsets(bindings))
	}
	seconds, known = make([]float64, len(bindings)), make([]bool, len(bindings))
	for i, b := range bindings {
		if !a.observed[i] {
			continue
		}
		seconds[i], known[i] = pendingAge(now, a.ranges[i], func(p int32, r offsetRange) (time.Time, bool) {
			// A record is exact only for the offset it was fetched from and
			// only if it is pending; anything else is estimated.
			if rec, ok := fetched[topicPartition{topic: b.Topic, partition: p}]; ok && rec.requested == r.from && rec.offset < r.to {
				return rec.timestamp, true
			}
			return a.history.producedAt(b.Topic, p, r.from)
		})
	}
	return seconds, known
}

// firstPendingOffsets returns, per lagging partition, the lowest first
// pending offset of the bindings reading it: a Fetch holds a partition once,
// so bindings further ahead on the same partition get the estimate.
func (a *pendingAger) firstPendingOffsets(bindings []BindingConfig) map[topicPartition]int64 {
	firsts := map[topicPartition]int64{}
	for i, b := range bindings {
		if !a.observed[i] {
			continue
		}
		for _, r := range a.ranges[i] {
			if r.empty() {
				continue
			}
			tp := topicPartition{topic: b.Topic, partition: r.partition}
			if first, ok := firsts[tp]; !ok || r.from < first {
				firsts[tp] = r.from
			}
		}
	}
	return firsts
}
