package kafkawakereceiver

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestPartitionPending(t *testing.T) {
	tests := []struct {
		name      string
		reset     OffsetReset
		offsets   partitionOffsets
		want      int64
		wantFirst int64 // first pending offset, when want > 0
	}{
		{"committed behind", OffsetResetEarliest, partitionOffsets{highWatermark: 100, logStart: 0, committed: 40}, 60, 40},
		{"fully consumed", OffsetResetEarliest, partitionOffsets{highWatermark: 100, logStart: 0, committed: 100}, 0, 0},
		{"commit below log start counts only retained messages", OffsetResetEarliest, partitionOffsets{highWatermark: 100, logStart: 80, committed: 60}, 20, 80},
		{"commit above high watermark is never negative", OffsetResetEarliest, partitionOffsets{highWatermark: 100, logStart: 0, committed: 130}, 0, 0},
		{"no commit, earliest, counts retained messages", OffsetResetEarliest, partitionOffsets{highWatermark: 100, logStart: 30, committed: noCommit}, 70, 30},
		{"no commit, earliest, empty partition", OffsetResetEarliest, partitionOffsets{highWatermark: 0, logStart: 0, committed: noCommit}, 0, 0},
		{"no commit, latest, first sight is the baseline", OffsetResetLatest, partitionOffsets{highWatermark: 100, logStart: 0, committed: noCommit}, 0, 0},
		{"commit wins over latest", OffsetResetLatest, partitionOffsets{highWatermark: 100, logStart: 0, committed: 90}, 10, 90},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newBindingState()
			got := s.pendingRange(0, tt.offsets, tt.reset)
			assert.Equal(t, tt.want, got.len())
			if tt.want > 0 {
				assert.Equal(t, tt.wantFirst, got.from, "first pending offset")
			}
		})
	}
}

func TestPendingRangeStartsAtTheLatestBaseline(t *testing.T) {
	s := newBindingState()
	var got map[int32]offsetRange
	observe := func(partitions map[int32]partitionOffsets) {
		got = map[int32]offsetRange{}
		s.observe(time.Time{}, partitions, OffsetResetLatest, func(p int32, r offsetRange) { got[p] = r })
	}
	observe(parts(partitionOffsets{highWatermark: 100, committed: noCommit}))
	assert.True(t, got[0].empty(), "first sight is the baseline: nothing pending")
	observe(parts(partitionOffsets{highWatermark: 130, committed: noCommit}))
	assert.Equal(t, offsetRange{from: 100, to: 130}, got[0], "the first pending message is the first one after the baseline")
	observe(parts(partitionOffsets{highWatermark: 130, logStart: 110, committed: noCommit}))
	assert.Equal(t, offsetRange{from: 110, to: 130}, got[0], "retention moved past the baseline")
}

// step is one scrape fed to a bindingState in sequence tests.
type step struct {
	partitions   map[int32]partitionOffsets
	wantPending  int64
	wantConsumed int64
	wantActivity bool // whether lastActivity equals this step's time
}

func runSteps(t *testing.T, reset OffsetReset, steps []step) {
	t.Helper()
	s := newBindingState()
	start := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	var lastActivity time.Time
	for i, st := range steps {
		now := start.Add(time.Duration(i) * 2 * time.Second)
		obs := s.observe(now, st.partitions, reset, nil)
		assert.Equal(t, st.wantPending, obs.pending, "step %d pending", i)
		assert.Equal(t, st.wantConsumed, obs.consumed, "step %d consumed", i)
		if st.wantActivity {
			lastActivity = now
		}
		assert.Equal(t, lastActivity, obs.lastActivity, "step %d last activity", i)
	}
}

func parts(offsets ...partitionOffsets) map[int32]partitionOffsets {
	m := make(map[int32]partitionOffsets, len(offsets))
	for i, o := range offsets {
		m[int32(i)] = o
	}
	return m
}

func TestObserveSequences(t *testing.T) {
	tests := []struct {
		name  string
		reset OffsetReset
		steps []step
	}{
		{
			name:  "first observation is a baseline, not activity",
			reset: OffsetResetEarliest,
			steps: []step{
				{partitions: parts(partitionOffsets{100, 0, 50}), wantPending: 50},
				{partitions: parts(partitionOffsets{100, 0, 50}), wantPending: 50},
			},
		},
		{
			name:  "commits moving forward are consumption and activity",
			reset: OffsetResetEarliest,
			steps: []step{
				{partitions: parts(partitionOffsets{100, 0, 50}, partitionOffsets{10, 0, 0}), wantPending: 60},
				{partitions: parts(partitionOffsets{100, 0, 70}, partitionOffsets{10, 0, 5}), wantPending: 35, wantConsumed: 25, wantActivity: true},
				{partitions: parts(partitionOffsets{100, 0, 70}, partitionOffsets{10, 0, 5}), wantPending: 35, wantConsumed: 25},
			},
		},
		{
			name:  "rewind is not consumption, and the next forward move counts from the rewound offset",
			reset: OffsetResetEarliest,
			steps: []step{
				{partitions: parts(partitionOffsets{100, 0, 60}), wantPending: 40},
				{partitions: parts(partitionOffsets{100, 0, 10}), wantPending: 90},
				{partitions: parts(partitionOffsets{100, 0, 25}), wantPending: 75, wantConsumed: 15, wantActivity: true},
			},
		},
		{
			name:  "a partition's first commit under earliest counts from the log start",
			reset: OffsetResetEarliest,
			steps: []step{
				{partitions: parts(partitionOffsets{100, 20, noCommit}), wantPending: 80},
				{partitions: parts(partitionOffsets{100, 30, 80}), wantPending: 20, wantConsumed: 60, wantActivity: true},
				{partitions: parts(partitionOffsets{100, 30, 90}), wantPending: 10, wantConsumed: 70, wantActivity: true},
			},
		},
		{
			name:  "a partition's first commit under latest counts from the baseline",
			reset: OffsetResetLatest,
			steps: []step{
				{partitions: parts(partitionOffsets{1000, 0, noCommit}, partitionOffsets{0, 0, noCommit}), wantPending: 0},
				{partitions: parts(partitionOffsets{1030, 0, noCommit}, partitionOffsets{5, 0, noCommit}), wantPending: 35},
				{partitions: parts(partitionOffsets{1030, 0, 1030}, partitionOffsets{5, 0, 4}), wantPending: 1, wantConsumed: 34, wantActivity: true},
			},
		},
		{
			name:  "a first commit seen at the first observation is a baseline",
			reset: OffsetResetEarliest,
			steps: []step{
				{partitions: parts(partitionOffsets{100, 0, 80}), wantPending: 20},
				{partitions: parts(partitionOffsets{100, 0, 80}), wantPending: 20},
			},
		},
		{
			name:  "a first commit below the log start is not negative consumption",
			reset: OffsetResetEarliest,
			steps: []step{
				{partitions: parts(partitionOffsets{100, 50, noCommit}), wantPending: 50},
				{partitions: parts(partitionOffsets{100, 50, 10}), wantPending: 50},
			},
		},
		{
			name:  "added and removed partitions produce no phantom consumption",
			reset: OffsetResetEarliest,
			steps: []step{
				{partitions: parts(partitionOffsets{100, 0, 50}, partitionOffsets{100, 0, 50}), wantPending: 100},
				{partitions: parts(partitionOffsets{100, 0, 50}), wantPending: 50},
				{partitions: parts(partitionOffsets{100, 0, 50}, partitionOffsets{100, 0, 70}, partitionOffsets{5, 0, noCommit}), wantPending: 85},
				{partitions: parts(partitionOffsets{100, 0, 51}, partitionOffsets{100, 0, 70}, partitionOffsets{5, 0, noCommit}), wantPending: 84, wantConsumed: 1, wantActivity: true},
			},
		},
		{
			name:  "latest counts only messages produced after the partition was first seen",
			reset: OffsetResetLatest,
			steps: []step{
				{partitions: parts(partitionOffsets{1000, 0, noCommit}), wantPending: 0},
				{partitions: parts(partitionOffsets{1007, 0, noCommit}), wantPending: 7},
				{partitions: parts(partitionOffsets{1007, 0, 1007}), wantPending: 0, wantConsumed: 7, wantActivity: true},
			},
		},
		{
			name:  "latest re-baselines a truncated or re-created partition",
			reset: OffsetResetLatest,
			steps: []step{
				{partitions: parts(partitionOffsets{1000, 0, noCommit}), wantPending: 0},
				{partitions: parts(partitionOffsets{3, 0, noCommit}), wantPending: 0},
				{partitions: parts(partitionOffsets{8, 0, noCommit}), wantPending: 5},
			},
		},
		{
			name:  "latest baseline never counts deleted messages",
			reset: OffsetResetLatest,
			steps: []step{
				{partitions: parts(partitionOffsets{10, 0, noCommit}), wantPending: 0},
				{partitions: parts(partitionOffsets{30, 25, noCommit}), wantPending: 5},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runSteps(t, tt.reset, tt.steps) })
	}
}
