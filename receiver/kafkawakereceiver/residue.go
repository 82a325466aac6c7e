package kafkawakereceiver // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver"

import (
	"context"
	"encoding/binary"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The transaction-residue rule, whole: its state, its decision and its Kafka
// call.
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

// residueChecker applies the rule to every binding of one receiver.
type residueChecker struct {
	client   *kgo.Client
	memories []residueMemory // one per binding, in configuration order
}

func newResidueChecker(bindings int) *residueChecker {
	c := &residueChecker{memories: make([]residueMemory, bindings)}
	for i := range c.memories {
		c.forget(i)
	}
	return c
}

// forget starts a binding's memory over, for a binding new to this replica.
func (c *residueChecker) forget(binding int) {
	c.memories[binding] = residueMemory{prevRanges: map[int32]offsetRange{}, verdicts: map[int32]rangeVerdict{}}
}

// residueMemory is one binding's state for the rule.
type residueMemory struct {
	// prevRanges are the pending ranges of committed partitions at the
	// previous settled scrape.
	prevRanges map[int32]offsetRange
	// verdicts are the ranges already checked, kept while unchanged.
	verdicts map[int32]rangeVerdict
}

// rangeVerdict is the outcome of a check that was made.
type rangeVerdict struct {
	offsetRange
	empty bool // no record a read_committed consumer would read
}

// residueRange identifies a pending range to check.
type residueRange struct {
	topic     string
	partition int32
	offsetRange
}

// settle checks the suspect ranges of every readable binding at once, then
// closes the ranges proven empty in reads, so that the lag rules count them
// 0. Bindings that could not be read, or whose commits are unreadable, keep
// their memory untouched.
func (c *residueChecker) settle(ctx context.Context, layout topicLayout, bindings []BindingConfig, reads []bindingOffsets, readErrs []error) {
	settled := func(i int) bool { return readErrs[i] == nil && reads[i].commitsErr == nil }
	suspects := make([]map[int32]offsetRange, len(reads))
	var ranges []residueRange
	seen := map[residueRange]bool{}
	for i := range reads {
		if !settled(i) {
			continue
		}
		suspects[i] = c.memories[i].suspects(reads[i].partitions)
		for p, r := range suspects[i] {
			rr := residueRange{topic: bindings[i].Topic, partition: p, offsetRange: r}
			if !seen[rr] {
				seen[rr] = true
				ranges = append(ranges, rr)
			}
		}
	}
	var verdicts map[residueRange]bool
	if len(ranges) > 0 {
		verdicts = c.check(ctx, layout, ranges)
	}
	for i := range reads {
		if !settled(i) {
			continue
		}
		m := &c.memories[i]
		for p, r := range suspects[i] {
			if empty, made := verdicts[residueRange{topic: bindings[i].Topic, partition: p, offsetRange: r}]; made {
				m.verdicts[p] = rangeVerdict{offsetRange: r, empty: empty}
			}
		}
		reads[i].partitions = m.apply(reads[i].partitions)
	}
}

// suspects returns the committed partitions whose pending range may be made
// only of transaction markers: non-empty, without a verdict, and either seen
// for the first time or unchanged since the previous scrape.
func (m *residueMemory) suspects(partitions map[int32]partitionOffsets) map[int32]offsetRange {
	out := map[int32]offsetRange{}
	for p, o := range partitions {
		if o.committed == noCommit {
			continue
		}
		r := committedRange(o)
		if r.empty() || m.verdicts[p].offsetRange == r {
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
// its start.
func (m *residueMemory) apply(partitions map[int32]partitionOffsets) map[int32]partitionOffsets {
	clear(m.prevRanges)
	out := make(map[int32]partitionOffsets, len(partitions))
	for p, o := range partitions {
		out[p] = o
		if o.committed == noCommit {
			continue
		}
		r := committedRange(o)
		m.prevRanges[p] = r
		if v := m.verdicts[p]; v.empty && v.offsetRange == r {
			o.highWatermark = r.from
			out[p] = o
		}
	}
	for p, v := range m.verdicts {
		if m.prevRanges[p] != v.offsetRange {
			delete(m.verdicts, p)
		}
	}
	return out
}

// committedRange is what a group with a commit still has to read.
func committedRange(o partitionOffsets) offsetRange {
	return offsetRange{from: max(o.committed, o.logStart), to: o.highWatermark}
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
func readableRecordsIn(batches []batchSummary, aborted []abortedTxn, r offsetRange) (found, complete bool) {
	aborted = slices.Clone(aborted)
	slices.SortFunc(aborted, func(a, b abortedTxn) int { return int(a.firstOffset - b.firstOffset) })
	abortedProducers := map[int64]bool{}
	next := 0
	for _, b := range batches {
		for next < len(aborted) && aborted[next].firstOffset <= b.last {
			abortedProducers[aborted[next].producerID] = true
			next++
		}
		if b.last >= r.to-1 {
			complete = true
		}
		switch {
		case b.control:
			// The producer's transaction ends here, whether committed or
			// aborted.
			delete(abortedProducers, b.producerID)
		case b.transactional && abortedProducers[b.producerID]:
		case b.last >= r.from && b.first < r.to:
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
func (c *residueChecker) check(ctx context.Context, layout topicLayout, ranges []residueRange) map[residueRange]bool {
	requests := newFetchRequests(layout, func() *kmsg.FetchRequest { return newFetchRequest(1, 4<<20) })
	for _, rr := range ranges {
		requests.add(rr.topic, rr.partition, rr.from, 256<<10)
	}

	verdicts := map[residueRange]bool{}
	for leader, req := range requests.byLeader {
		resp, err := req.RequestWith(ctx, c.client.Broker(int(leader)))
		if err != nil || resp.ErrorCode != 0 {
			continue
		}
		for i := range resp.Topics {
			t := &resp.Topics[i]
			name := layout.fetchedTopic(t)
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
					found, complete := readableRecordsIn(batches, aborted, rr.offsetRange)
					verdicts[rr] = complete && !found
				}
			}
		}
	}
	return verdicts
}
