package pendingage

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/offset"
)

func TestPendingAge(t *testing.T) {
	// Partition p's first pending record was produced p×10 s before now;
	// partition 9 cannot be dated.
	now := at(100)
	producedAt := func(p int32, _ offset.Range) (time.Time, bool) {
		if p == 9 {
			return time.Time{}, false
		}
		return now.Add(-time.Duration(p) * 10 * time.Second), true
	}
	pending := func(p int32, from, to int64) offset.PartitionRange {
		return offset.PartitionRange{Partition: p, Range: offset.Range{From: from, To: to}}
	}
	tests := []struct {
		name    string
		ranges  []offset.PartitionRange
		want    float64
		unknown bool
	}{
		{"the oldest partition wins", []offset.PartitionRange{pending(1, 0, 5), pending(3, 2, 4), pending(2, 7, 8)}, 30, false},
		{"nothing pending is 0", []offset.PartitionRange{pending(3, 5, 5), pending(9, 8, 8)}, 0, false},
		{"a commit above the high watermark is not pending", []offset.PartitionRange{pending(3, 9, 5), pending(1, 0, 1)}, 10, false},
		{"no partitions is 0", nil, 0, false},
		{"one pending partition that cannot be dated makes the age unknown", []offset.PartitionRange{pending(3, 0, 5), pending(9, 0, 1)}, 0, true},
		{"a record dated after now is 0, never negative", []offset.PartitionRange{pending(-1, 0, 5)}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := pendingAge(now, tt.ranges, producedAt)
			if tt.unknown {
				assert.False(t, ok)
				return
			}
			require.True(t, ok)
			assert.InDelta(t, tt.want, got, 1e-9)
		})
	}
}

func TestWatermarkHistory(t *testing.T) {
	id := [16]byte{1}
	hw := func(offsets ...int64) offset.Partitions {
		ps := offset.NewPartitions(len(offsets))
		for p, o := range offsets {
			ps.Set(int32(p), offset.Partition{HighWatermark: o, Committed: offset.NoCommit})
		}
		return ps
	}
	dated := func(h *watermarkHistory, topic string, p int32, offset int64) float64 {
		t.Helper()
		got, ok := h.producedAt(topic, p, offset)
		require.True(t, ok, "%s/%d@%d", topic, p, offset)
		return got.Sub(tableEpoch).Seconds()
	}

	t.Run("partitions and topics have their own tables", func(t *testing.T) {
		h := newWatermarkHistory()
		h.observe(at(0), "a", id, hw(10, 0))
		h.observe(at(10), "a", id, hw(20, 100))
		h.observe(at(10), "b", id, hw(5))
		assert.InDelta(t, 5, dated(h, "a", 0, 14), 1e-6)
		assert.InDelta(t, 0.1, dated(h, "a", 1, 0), 1e-6)
		assert.InDelta(t, 10, dated(h, "b", 0, 0), 1e-6)
		_, ok := h.producedAt("c", 0, 0)
		assert.False(t, ok, "a topic never read cannot be dated")
	})
	t.Run("a second read at the same time changes nothing", func(t *testing.T) {
		h := newWatermarkHistory()
		h.observe(at(0), "a", id, hw(10))
		h.observe(at(10), "a", id, hw(20))
		h.observe(at(10), "a", id, hw(20))
		assert.InDelta(t, 5, dated(h, "a", 0, 14), 1e-6)
	})
	t.Run("a re-created topic restarts its tables even when it grew past the old end", func(t *testing.T) {
		h := newWatermarkHistory()
		h.observe(at(0), "a", id, hw(10))
		h.observe(at(10), "a", id, hw(20))
		h.observe(at(50), "a", [16]byte{2}, hw(30))
		assert.InDelta(t, 50, dated(h, "a", 0, 14), 1e-6, "old points must not date the new topic's records")
	})
	t.Run("a partition that disappears loses its table", func(t *testing.T) {
		h := newWatermarkHistory()
		h.observe(at(0), "a", id, hw(10, 10))
		h.observe(at(10), "a", id, hw(20))
		_, ok := h.producedAt("a", 1, 0)
		assert.False(t, ok)
		h.observe(at(20), "a", id, hw(30, 5))
		assert.InDelta(t, 20, dated(h, "a", 1, 0), 1e-6, "a partition that comes back starts fresh")
	})
}
