package residue

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/offset"
)

func TestReadableRecordsIn(t *testing.T) {
	data := func(first, last int64) batchSummary { return batchSummary{first: first, last: last} }
	txnData := func(first, last, producer int64) batchSummary {
		return batchSummary{first: first, last: last, producerID: producer, transactional: true}
	}
	marker := func(at, producer int64) batchSummary {
		return batchSummary{first: at, last: at, producerID: producer, transactional: true, control: true}
	}
	tests := []struct {
		name         string
		batches      []batchSummary
		aborted      []abortedTxn
		r            offset.Range
		wantFound    bool
		wantComplete bool
	}{
		{"commit marker only", []batchSummary{txnData(0, 9, 7), marker(10, 7)}, nil, offset.Range{From: 10, To: 11}, false, true},
		{"aborted records and their marker", []batchSummary{marker(10, 7), txnData(11, 14, 8), marker(15, 8)},
			[]abortedTxn{{producerID: 8, firstOffset: 11}}, offset.Range{From: 10, To: 16}, false, true},
		{"committed transactional records are readable", []batchSummary{txnData(11, 14, 8), marker(15, 8)}, nil, offset.Range{From: 11, To: 16}, true, true},
		{"a plain record after the markers", []batchSummary{marker(10, 7), data(11, 11)}, nil, offset.Range{From: 10, To: 12}, true, true},
		{"the batch holding the range start begins before it", []batchSummary{data(5, 12)}, nil, offset.Range{From: 10, To: 13}, true, true},
		{"answer stops before the range end", []batchSummary{marker(10, 7)}, nil, offset.Range{From: 10, To: 40}, false, false},
		{"another producer's abort does not hide data", []batchSummary{txnData(11, 12, 9), marker(13, 9)},
			[]abortedTxn{{producerID: 8, firstOffset: 11}}, offset.Range{From: 11, To: 14}, true, true},
		{"no batches", nil, nil, offset.Range{From: 10, To: 11}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			found, complete := readableRecordsIn(tt.batches, tt.aborted, tt.r)
			assert.Equal(t, tt.wantFound, found, "found")
			assert.Equal(t, tt.wantComplete, complete, "complete")
		})
	}
}

func TestResidueMemory(t *testing.T) {
	m := NewMemory()
	offsets := offset.PartitionsOf(map[int32]offset.Partition{
		0: {HighWatermark: 11, LogStart: 0, Committed: 10}, // residue
		1: {HighWatermark: 20, LogStart: 0, Committed: 20}, // consumed
		2: {HighWatermark: 5, LogStart: 0, Committed: offset.NoCommit},
	})
	at := func(ps offset.Partitions, p int32) offset.Partition {
		o, _ := ps.Get(p)
		return o
	}
	assert.Equal(t, map[int32]offset.Range{0: {From: 10, To: 11}}, m.suspects(offsets), "first sight is checked")
	assert.Equal(t, offsets, m.apply(offsets), "nothing is closed without a verdict")
	assert.Equal(t, map[int32]offset.Range{0: {From: 10, To: 11}}, m.suspects(offsets), "a range that could not be checked is checked again")

	m.verdicts[0] = rangeVerdict{Range: offset.Range{From: 10, To: 11}, empty: true}
	closed := m.apply(offsets)
	assert.Equal(t, offset.Partition{HighWatermark: 10, LogStart: 0, Committed: 10}, at(closed, 0), "a proven residue is closed")
	assert.Equal(t, at(offsets, 1), at(closed, 1))
	assert.Equal(t, at(offsets, 2), at(closed, 2))
	assert.Empty(t, m.suspects(offsets), "a proven range is not checked again")

	// The partition moves on: the verdict is dropped, a live range is not
	// checked until it holds still.
	moved := offset.PartitionsOf(map[int32]offset.Partition{0: {HighWatermark: 14, LogStart: 0, Committed: 10}})
	assert.Empty(t, m.suspects(moved))
	assert.Equal(t, moved, m.apply(moved))
	assert.Empty(t, m.verdicts, "the verdict of a range that moved is forgotten")
	assert.Equal(t, map[int32]offset.Range{0: {From: 10, To: 14}}, m.suspects(moved))

	// A range with readable records stays pending and is not checked again
	// while it holds still.
	m.verdicts[0] = rangeVerdict{Range: offset.Range{From: 10, To: 14}, empty: false}
	assert.Equal(t, moved, m.apply(moved))
	assert.Empty(t, m.suspects(moved))
}
