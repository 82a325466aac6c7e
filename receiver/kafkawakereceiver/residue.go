package kafkawakereceiver // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver"

import (
	"context"
	"encoding/binary"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Transaction markers, and the records of aborted transactions, take
// offsets that a read_committed consumer never reads. Many clients commit the
// offset after their last record, below the marker, so a group that read
// everything can sit below the end of the partition forever and look pending.
// With isolation_level read_committed the receiver checks such ranges once,
// with one Fetch per partition leader, and counts a range without readable
// records as 0.

// offsetRange is the half-open range [from, to) of a partition.
type offsetRange struct{ from, to int64 }

func (r offsetRange) empty() bool { return r.to <= r.from }

// residueRange identifies a pending range to check.
type residueRange struct {
	topic     string
	partition int32
	offsetRange
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

// checkResidue fetches the start of each range, read_committed, and returns
// the ranges proven to hold no readable record. Anything it cannot prove
// (errors, truncated answers) stays pending.
func (r *offsetReader) checkResidue(ctx context.Context, layout topicLayout, ranges []residueRange) map[residueRange]bool {
	requests := map[int32]*kmsg.FetchRequest{}
	for _, rr := range ranges {
		leader, ok := layout.leaders[rr.topic][rr.partition]
		if !ok {
			continue
		}
		req := requests[leader]
		if req == nil {
			req = kmsg.NewPtrFetchRequest()
			req.ReplicaID = -1
			req.MaxBytes = 4 << 20
			req.IsolationLevel = 1
			req.SessionEpoch = -1
			requests[leader] = req
		}
		part := kmsg.NewFetchRequestTopicPartition()
		part.Partition = rr.partition
		part.FetchOffset = rr.from
		part.PartitionMaxBytes = 256 << 10
		topic := kmsg.NewFetchRequestTopic()
		topic.Topic = rr.topic
		topic.TopicID = layout.ids[rr.topic]
		topic.Partitions = []kmsg.FetchRequestTopicPartition{part}
		req.Topics = append(req.Topics, topic)
	}

	empty := map[residueRange]bool{}
	for leader, req := range requests {
		resp, err := req.RequestWith(ctx, r.client.Broker(int(leader)))
		if err != nil || resp.ErrorCode != 0 {
			continue
		}
		for _, t := range resp.Topics {
			name := t.Topic
			if name == "" {
				name = layout.names[t.TopicID]
			}
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
					if found, complete := readableRecordsIn(batches, aborted, rr.offsetRange); complete && !found {
						empty[rr] = true
					}
				}
			}
		}
	}
	return empty
}
