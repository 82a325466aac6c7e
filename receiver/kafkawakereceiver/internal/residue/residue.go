// Package residue is the transaction-residue rule, whole: its state, its
// decision and its Kafka call.
//
// Transaction markers, and the records of aborted transactions, take
// offsets that a read_committed consumer never reads. Many clients commit the
// offset after their last record, below the marker, so a group that read
// everything can sit below the end of the partition forever and look
// pending. With isolation_level read_committed the receiver checks such
// ranges with one Fetch per partition leader, and counts a range proven to
// hold no readable record as 0. A range is checked when it is first seen or
// holds still across two scrapes (a moving range is a live partition), and
// its verdict is kept while it stays the same. A check that could not be made
// (request failed, leader moved, partition unknown) records nothing, so it
// is made again at the next scrape.
package residue // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/residue"

import (
	"context"
	"encoding/binary"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/kafkaread"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/offset"
)

// Memory is one binding's state for the rule.
type Memory struct {
	// prevRanges are the pending ranges of committed partitions at the
	// previous settled scrape.
	prevRanges map[int32]offset.Range
	// verdicts are the ranges already checked, kept while unchanged.
	verdicts map[int32]rangeVerdict
}

// NewMemory is the memory of a binding never checked.
func NewMemory() *Memory {
	return &Memory{prevRanges: map[int32]offset.Range{}, verdicts: map[int32]rangeVerdict{}}
}

// rangeVerdict is the outcome of a check that was made.
type rangeVerdict struct {
	offset.Range
	empty bool // no record a read_committed consumer would read
}

// residueRange identifies a pending range to check.
type residueRange struct {
	topic     string
	partition int32
	offset.Range
}

// Binding is one binding an observation read in full, commits included.
type Binding struct {
	Topic      string
	Memory     *Memory
	Partitions offset.Partitions
}

// Settle checks the suspect ranges of every binding at once, then closes
// the ranges proven empty in each binding's Partitions, so that the lag
// rules count them 0.
func Settle(ctx context.Context, fetcher kafkaread.Fetcher, layout kafkaread.Layout, bindings []Binding) {
	suspects := make([]map[int32]offset.Range, len(bindings))
	var ranges []residueRange
	seen := map[residueRange]bool{}
	for i, b := range bindings {
		suspects[i] = b.Memory.suspects(b.Partitions)
		for p, r := range suspects[i] {
			rr := residueRange{topic: b.Topic, partition: p, Range: r}
			if !seen[rr] {
				seen[rr] = true
				ranges = append(ranges, rr)
			}
		}
	}
	var verdicts map[residueRange]bool
	if len(ranges) > 0 {
		verdicts = check(ctx, fetcher, layout, ranges)
	}
	for i := range bindings {
		b := &bindings[i]
		for p, r := range suspects[i] {
			if empty, made := verdicts[residueRange{topic: b.Topic, partition: p, Range: r}]; made {
				b.Memory.verdicts[p] = rangeVerdict{Range: r, empty: empty}
			}
		}
		b.Partitions = b.Memory.apply(b.Partitions)
	}
}

// suspects returns the committed partitions whose pending range may be made
// only of transaction markers: non-empty, without a verdict, and either seen
// for the first time or unchanged since the previous scrape.
func (m *Memory) suspects(partitions offset.Partitions) map[int32]offset.Range {
	out := map[int32]offset.Range{}
	for p, o := range partitions.All() {
		if o.Committed == offset.NoCommit {
			continue
		}
		r := offset.CommittedRange(o)
		if r.Empty() || m.verdicts[p].Range == r {
			continue
		}
		if prev, seen := m.prevRanges[p]; !seen || prev == r {
			out[p] = r
		}
	}
	return out
}

// apply remembers this scrape's ranges, forgets the verdicts of ranges that
// moved, and returns the partitions with every range proven empty closed at
// its start. The partitions themselves are left as read (the receiver keeps
// them as Kafka listed them); they are copied only when a range closes.
func (m *Memory) apply(partitions offset.Partitions) offset.Partitions {
	clear(m.prevRanges)
	out, copied := partitions, false
	for p, o := range partitions.All() {
		if o.Committed == offset.NoCommit {
			continue
		}
		r := offset.CommittedRange(o)
		m.prevRanges[p] = r
		if v := m.verdicts[p]; v.empty && v.Range == r {
			if !copied {
				out, copied = partitions.Clone(), true
			}
			o.HighWatermark = r.From
			out.Set(p, o)
		}
	}
	for p, v := range m.verdicts {
		if m.prevRanges[p] != v.Range {
			delete(m.verdicts, p)
		}
	}
	return out
}

// batchSummary is what the check needs of one record batch.
type batchSummary struct {
	first, last   int64
	producerID    int64
	transactional bool
	control       bool
}

type abortedTxn struct{ producerID, firstOffset int64 }

// readableRecordsIn reports whether a read_committed consumer reading the
// batches, in offset order, would return a record inside r; complete says
// whether the batches reach the end of r, so that "none" can be trusted.
func readableRecordsIn(batches []batchSummary, aborted []abortedTxn, r offset.Range) (found, complete bool) {
	aborted = slices.Clone(aborted)
	slices.SortFunc(aborted, func(a, b abortedTxn) int { return int(a.firstOffset - b.firstOffset) })
	abortedProducers := map[int64]bool{}
	next := 0
	for _, b := range batches {
		for next < len(aborted) && aborted[next].firstOffset <= b.last {
			abortedProducers[aborted[next].producerID] = true
			next++
		}
		if b.last >= r.To-1 {
			complete = true
		}
		switch {
		case b.control:
			// The producer's transaction ends here, whether committed or
			// aborted.
			delete(abortedProducers, b.producerID)
		case b.transactional && abortedProducers[b.producerID]:
		case b.last >= r.From && b.first < r.To:
			return true, true
		}
		if complete {
			return false, true
		}
	}
	return false, false
}

// summarizeBatches decodes the headers of a Fetch response's record batches.
// A truncated last batch is dropped; a batch in a pre-0.11 format counts as
// data, which keeps the range pending.
func summarizeBatches(raw []byte) []batchSummary {
	const (
		headerSize         = 61 // v2 batch header
		magicOffset        = 16
		attrTransactional  = 0x10
		attrControl        = 0x20
		lengthFieldEndsAt  = 12
		firstOffsetEndsAt  = 8
		magicWithProducers = 2
	)
	var out []batchSummary
	for len(raw) >= lengthFieldEndsAt {
		size := lengthFieldEndsAt + int(int32(binary.BigEndian.Uint32(raw[firstOffsetEndsAt:lengthFieldEndsAt])))
		if size < lengthFieldEndsAt || size > len(raw) {
			break
		}
		batch := raw[:size]
		raw = raw[size:]
		first := int64(binary.BigEndian.Uint64(batch))
		if len(batch) < headerSize || int8(batch[magicOffset]) != magicWithProducers {
			out = append(out, batchSummary{first: first, last: first})
			continue
		}
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(batch); err != nil {
			break
		}
		out = append(out, batchSummary{
			first:         rb.FirstOffset,
			last:          rb.FirstOffset + int64(rb.LastOffsetDelta),
			producerID:    rb.ProducerID,
			transactional: rb.Attributes&attrTransactional != 0,
			control:       rb.Attributes&attrControl != 0,
		})
	}
	return out
}

// check fetches the start of each range, read_committed, from the
// partition's leader. It returns a verdict for every range it could check:
// true when the range holds no readable record. A range whose answer stops
// before its end without a readable record is not proven empty and gets
// false: asking again would get the same answer. Ranges it could not check
// (request or partition error, unknown leader) have no verdict.
func check(ctx context.Context, fetcher kafkaread.Fetcher, layout kafkaread.Layout, ranges []residueRange) map[residueRange]bool {
	requests := kafkaread.NewFetchRequests(layout, kafkaread.FetchShape{ReadCommitted: true, MaxBytes: 4 << 20})
	for _, rr := range ranges {
		requests.Add(offset.TopicPartition{Topic: rr.topic, Partition: rr.partition}, rr.From, 256<<10)
	}

	verdicts := map[residueRange]bool{}
	for leader, req := range requests.ByLeader {
		resp, err := fetcher.Fetch(ctx, leader, req)
		if err != nil || resp.ErrorCode != 0 {
			continue
		}
		for i := range resp.Topics {
			t := &resp.Topics[i]
			name := layout.FetchedTopic(t)
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 {
					continue
				}
				aborted := make([]abortedTxn, len(p.AbortedTransactions))
				for i, a := range p.AbortedTransactions {
					aborted[i] = abortedTxn{producerID: a.ProducerID, firstOffset: a.FirstOffset}
				}
				batches := summarizeBatches(p.RecordBatches)
				for _, rr := range ranges {
					if rr.topic != name || rr.partition != p.Partition {
						continue
					}
					found, complete := readableRecordsIn(batches, aborted, rr.Range)
					verdicts[rr] = complete && !found
				}
			}
		}
	}
	return verdicts
}
