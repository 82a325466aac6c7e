package lag

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/offset"
)

func TestPartitionPending(t *testing.T) {
	tests := []struct {
		name      string
		reset     Reset
		offsets   offset.Partition
		want      int64
		wantFirst int64 // first pending offset, when want > 0
	}{
		{"committed behind", FromEarliest, offset.Partition{HighWatermark: 100, LogStart: 0, Committed: 40}, 60, 40},
		{"fully consumed", FromEarliest, offset.Partition{HighWatermark: 100, LogStart: 0, Committed: 100}, 0, 0},
		{"commit below log start counts only retained messages", FromEarliest, offset.Partition{HighWatermark: 100, LogStart: 80, Committed: 60}, 20, 80},
		{"commit beyond the high watermark: the consumer resets to earliest", FromEarliest, offset.Partition{HighWatermark: 100, LogStart: 20, Committed: 130}, 80, 20},
		{"commit beyond the high watermark: the consumer resets to latest", FromLatest, offset.Partition{HighWatermark: 100, LogStart: 20, Committed: 130}, 0, 0},
		{"no commit, earliest, counts retained messages", FromEarliest, offset.Partition{HighWatermark: 100, LogStart: 30, Committed: offset.NoCommit}, 70, 30},
		{"no commit, earliest, empty partition", FromEarliest, offset.Partition{HighWatermark: 0, LogStart: 0, Committed: offset.NoCommit}, 0, 0},
		{"no commit, latest, first sight is the baseline", FromLatest, offset.Partition{HighWatermark: 100, LogStart: 0, Committed: offset.NoCommit}, 0, 0},
		{"commit wins over latest", FromLatest, offset.Partition{HighWatermark: 100, LogStart: 0, Committed: 90}, 10, 90},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := NewState().Observe(time.Time{}, offset.PartitionsOf(map[int32]offset.Partition{0: tt.offsets}), tt.reset, nil)
			require.Len(t, res.Ranges, 1)
			got := res.Ranges[0].Range
			assert.Equal(t, tt.want, got.Len())
			if tt.want > 0 {
				assert.Equal(t, tt.wantFirst, got.From, "first pending offset")
			}
		})
	}
}

func TestPendingRangeStartsAtTheLatestBaseline(t *testing.T) {
	s := NewState()
	var got map[int32]offset.Range
	observe := func(partitions offset.Partitions) {
		got = map[int32]offset.Range{}
		for _, r := range s.Observe(time.Time{}, partitions, FromLatest, nil).Ranges {
			got[r.Partition] = r.Range
		}
	}
	observe(parts(offset.Partition{HighWatermark: 100, Committed: offset.NoCommit}))
	assert.True(t, got[0].Empty(), "first sight is the baseline: nothing pending")
	observe(parts(offset.Partition{HighWatermark: 130, Committed: offset.NoCommit}))
	assert.Equal(t, offset.Range{From: 100, To: 130}, got[0], "the first pending message is the first one after the baseline")
	observe(parts(offset.Partition{HighWatermark: 130, LogStart: 110, Committed: offset.NoCommit}))
	assert.Equal(t, offset.Range{From: 110, To: 130}, got[0], "retention moved past the baseline")
}

// step is one observation fed to a State in sequence tests.
type step struct {
	partitions   offset.Partitions
	wantPending  int64
	wantConsumed int64
	wantActivity bool // whether lastActivity equals this step's time
}

func TestACommitBeyondTheEndCountsAsTheConsumerWillSeeIt(t *testing.T) {
	// The topic is re-created: the group's commit at 150 is past the new
	// topic's end. Its consumer resets to earliest and reads what is there.
	s := NewState()
	res := s.Observe(time.Time{}, parts(po(55, 0, 150), po(10, 0, 10)), FromEarliest, nil)
	assert.Equal(t, int64(55), res.Pending)
	assert.Equal(t, []int32{0}, res.OutOfRange)
	res = s.Observe(time.Time{}, parts(po(55, 0, 30), po(10, 0, 10)), FromEarliest, nil)
	assert.Equal(t, int64(25), res.Pending)
	assert.Equal(t, int64(30), res.Consumed, "the reset consumer's first commit is consumption from where it started")
	assert.Empty(t, res.OutOfRange)
}

func runSteps(t *testing.T, reset Reset, steps []step) {
	t.Helper()
	s := NewState()
	start := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	var lastActivity time.Time
	for i, st := range steps {
		now := start.Add(time.Duration(i) * 2 * time.Second)
		obs := s.Observe(now, st.partitions, reset, nil)
		assert.Equal(t, st.wantPending, obs.Pending, "step %d pending", i)
		assert.Equal(t, st.wantConsumed, obs.Consumed, "step %d consumed", i)
		if st.wantActivity {
			lastActivity = now
		}
		assert.Equal(t, lastActivity, obs.LastActivity, "step %d last activity", i)
	}
}

func parts(offsets ...offset.Partition) offset.Partitions {
	ps := offset.NewPartitions(len(offsets))
	for i, o := range offsets {
		ps.Set(int32(i), o)
	}
	return ps
}

func TestObserveSequences(t *testing.T) {
	tests := []struct {
		name  string
		reset Reset
		steps []step
	}{
		{
			name:  "first observation is a baseline, not activity",
			reset: FromEarliest,
			steps: []step{
				{partitions: parts(po(100, 0, 50)), wantPending: 50},
				{partitions: parts(po(100, 0, 50)), wantPending: 50},
			},
		},
		{
			name:  "commits moving forward are consumption and activity",
			reset: FromEarliest,
			steps: []step{
				{partitions: parts(po(100, 0, 50), po(10, 0, 0)), wantPending: 60},
				{partitions: parts(po(100, 0, 70), po(10, 0, 5)), wantPending: 35, wantConsumed: 25, wantActivity: true},
				{partitions: parts(po(100, 0, 70), po(10, 0, 5)), wantPending: 35, wantConsumed: 25},
			},
		},
		{
			name:  "rewind is not consumption, and the next forward move counts from the rewound offset",
			reset: FromEarliest,
			steps: []step{
				{partitions: parts(po(100, 0, 60)), wantPending: 40},
				{partitions: parts(po(100, 0, 10)), wantPending: 90},
				{partitions: parts(po(100, 0, 25)), wantPending: 75, wantConsumed: 15, wantActivity: true},
			},
		},
		{
			name:  "a partition's first commit under earliest counts from the log start",
			reset: FromEarliest,
			steps: []step{
				{partitions: parts(po(100, 20, offset.NoCommit)), wantPending: 80},
				{partitions: parts(po(100, 30, 80)), wantPending: 20, wantConsumed: 60, wantActivity: true},
				{partitions: parts(po(100, 30, 90)), wantPending: 10, wantConsumed: 70, wantActivity: true},
			},
		},
		{
			name:  "a partition's first commit under latest counts from the baseline",
			reset: FromLatest,
			steps: []step{
				{partitions: parts(po(1000, 0, offset.NoCommit), po(0, 0, offset.NoCommit)), wantPending: 0},
				{partitions: parts(po(1030, 0, offset.NoCommit), po(5, 0, offset.NoCommit)), wantPending: 35},
				{partitions: parts(po(1030, 0, 1030), po(5, 0, 4)), wantPending: 1, wantConsumed: 34, wantActivity: true},
			},
		},
		{
			name:  "a first commit seen at the first observation is a baseline",
			reset: FromEarliest,
			steps: []step{
				{partitions: parts(po(100, 0, 80)), wantPending: 20},
				{partitions: parts(po(100, 0, 80)), wantPending: 20},
			},
		},
		{
			name:  "a first commit below the log start is not negative consumption",
			reset: FromEarliest,
			steps: []step{
				{partitions: parts(po(100, 50, offset.NoCommit)), wantPending: 50},
				{partitions: parts(po(100, 50, 10)), wantPending: 50},
			},
		},
		{
			name:  "added and removed partitions produce no phantom consumption",
			reset: FromEarliest,
			steps: []step{
				{partitions: parts(po(100, 0, 50), po(100, 0, 50)), wantPending: 100},
				{partitions: parts(po(100, 0, 50)), wantPending: 50},
				{partitions: parts(po(100, 0, 50), po(100, 0, 70), po(5, 0, offset.NoCommit)), wantPending: 85},
				{partitions: parts(po(100, 0, 51), po(100, 0, 70), po(5, 0, offset.NoCommit)), wantPending: 84, wantConsumed: 1, wantActivity: true},
			},
		},
		{
			name:  "latest counts only messages produced after the partition was first seen",
			reset: FromLatest,
			steps: []step{
				{partitions: parts(po(1000, 0, offset.NoCommit)), wantPending: 0},
				{partitions: parts(po(1007, 0, offset.NoCommit)), wantPending: 7},
				{partitions: parts(po(1007, 0, 1007)), wantPending: 0, wantConsumed: 7, wantActivity: true},
			},
		},
		{
			name:  "latest re-baselines a truncated or re-created partition",
			reset: FromLatest,
			steps: []step{
				{partitions: parts(po(1000, 0, offset.NoCommit)), wantPending: 0},
				{partitions: parts(po(3, 0, offset.NoCommit)), wantPending: 0},
				{partitions: parts(po(8, 0, offset.NoCommit)), wantPending: 5},
			},
		},
		{
			name:  "latest baseline never counts deleted messages",
			reset: FromLatest,
			steps: []step{
				{partitions: parts(po(10, 0, offset.NoCommit)), wantPending: 0},
				{partitions: parts(po(30, 25, offset.NoCommit)), wantPending: 5},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runSteps(t, tt.reset, tt.steps) })
	}
}

// po is a partition's offsets: high watermark, log start, commit.
func po(highWatermark, logStart, committed int64) offset.Partition {
	return offset.Partition{HighWatermark: highWatermark, LogStart: logStart, Committed: committed}
}

// share is a share group's partition: start offset spso (NoCommit when not
// initialised) and the broker's count of unacknowledged records.
func share(hw, ls, spso, unacknowledged int64) offset.Partition {
	return offset.Partition{HighWatermark: hw, LogStart: ls, Committed: spso, Share: true, Unacknowledged: unacknowledged}
}

func TestShareGroupPendingIsTheBrokersUnacknowledgedCount(t *testing.T) {
	s := NewState()
	// Records 40..99 are past the start offset, but 20 of them are already
	// acknowledged: 40 wait, acquired ones included.
	res := s.Observe(time.Time{}, parts(share(100, 0, 40, 40), share(50, 0, 50, 0)), FromLatest, nil)
	assert.Equal(t, int64(40), res.Pending)
	assert.Equal(t, 1, res.PartitionsPending)
	require.Len(t, res.Ranges, 2)
	assert.Equal(t, offset.PartitionRange{Partition: 0, Range: offset.Range{From: 40, To: 100}, Pending: 40}, res.Ranges[0], "the oldest unacknowledged record is at the start offset")
	assert.True(t, res.Ranges[1].Empty(), "nothing unacknowledged: no range to date")
	assert.Zero(t, res.Ranges[1].Pending)

	// Every record past the start offset acknowledged but the start offset
	// not moved yet: nothing waits.
	res = s.Observe(time.Time{}, parts(share(100, 0, 40, 0), share(50, 0, 50, 0)), FromLatest, nil)
	assert.Zero(t, res.Pending)
	assert.Zero(t, res.PartitionsPending)
	assert.True(t, res.Ranges[0].Empty())
}

func TestShareGroupConsumptionIsTheStartOffsetsGrowth(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := NewState()
	res := s.Observe(t0, parts(share(100, 0, 40, 60)), FromLatest, nil)
	assert.Zero(t, res.Consumed, "first sight is a baseline")
	res = s.Observe(t0.Add(time.Second), parts(share(100, 0, 70, 30)), FromLatest, nil)
	assert.Equal(t, int64(30), res.Consumed)
	assert.Equal(t, t0.Add(time.Second), res.LastActivity)
	// Acknowledgements past the start offset lower the lag but are not
	// consumption until the start offset moves: the two reads are taken at
	// different moments, so only the offset is trusted.
	res = s.Observe(t0.Add(2*time.Second), parts(share(100, 0, 70, 10)), FromLatest, nil)
	assert.Equal(t, int64(30), res.Consumed)
	assert.Equal(t, int64(10), res.Pending)
	assert.Equal(t, t0.Add(time.Second), res.LastActivity)
}

func TestShareGroupUninitialisedPartitionsFollowTheGroupsReset(t *testing.T) {
	t0 := time.Unix(1000, 0)
	uninitialised := func(hw, ls, since int64) offset.Partition {
		p := share(hw, ls, offset.NoCommit, 0)
		p.TimestampStart = since
		return p
	}
	t.Run("earliest counts every retained record", func(t *testing.T) {
		res := NewState().Observe(t0, parts(uninitialised(100, 10, 0)), FromEarliest, nil)
		assert.Equal(t, int64(90), res.Pending)
	})
	t.Run("latest counts from the first sight", func(t *testing.T) {
		s := NewState()
		assert.Zero(t, s.Observe(t0, parts(uninitialised(100, 10, 0)), FromLatest, nil).Pending)
		assert.Equal(t, int64(5), s.Observe(t0, parts(uninitialised(105, 10, 0)), FromLatest, nil).Pending)
	})
	t.Run("by_duration counts from the first record newer than the duration", func(t *testing.T) {
		s := NewState()
		assert.Equal(t, int64(30), s.Observe(t0, parts(uninitialised(100, 10, 70)), FromTimestamp, nil).Pending)
		assert.Equal(t, int64(90), s.Observe(t0, parts(uninitialised(100, 10, 0)), FromTimestamp, nil).Pending, "never before the log start")
	})
	t.Run("the first member's start offset counts consumption from where the group started", func(t *testing.T) {
		s := NewState()
		s.Observe(t0, parts(uninitialised(100, 0, 0)), FromEarliest, nil)
		res := s.Observe(t0.Add(time.Second), parts(share(100, 0, 30, 70)), FromEarliest, nil)
		assert.Equal(t, int64(30), res.Consumed)
		assert.Equal(t, int64(70), res.Pending)
	})
}

func TestRangesComeSortedByPartition(t *testing.T) {
	at := func(end int64) offset.Partition {
		return offset.Partition{HighWatermark: end, Committed: offset.NoCommit}
	}
	for name, partitions := range map[string]map[int32]offset.Partition{
		"numbered from 0":       {2: at(30), 0: at(10), 1: at(20)},
		"with a gap in numbers": {7: at(70), 0: at(10), 3: at(30)},
	} {
		t.Run(name, func(t *testing.T) {
			res := NewState().Observe(time.Time{}, offset.PartitionsOf(partitions), FromEarliest, nil)
			require.Len(t, res.Ranges, len(partitions))
			for i, r := range res.Ranges {
				assert.Equal(t, partitions[r.Partition].HighWatermark, r.Range.To, "range %d belongs to partition %d", i, r.Partition)
				if i > 0 {
					assert.Less(t, res.Ranges[i-1].Partition, r.Partition)
				}
			}
		})
	}
}

// TestRangesAreWrittenInTheRoomGiven: a caller observing many bindings
// hands each a part of one block; the ranges land there, and never past
// the part's capacity, where the next binding's ranges go.
func TestRangesAreWrittenInTheRoomGiven(t *testing.T) {
	block := make([]offset.PartitionRange, 3)
	block[2] = offset.PartitionRange{Partition: 99}
	two := parts(po(10, 0, 5), po(20, 0, 5))

	res := NewState().Observe(time.Time{}, two, FromEarliest, block[0:0:2])
	require.Len(t, res.Ranges, 2)
	assert.Same(t, &block[0], &res.Ranges[0], "the ranges are written in the room given")
	assert.Equal(t, offset.PartitionRange{Partition: 1, Range: offset.Range{From: 5, To: 20}, Pending: 15}, block[1])
	assert.Equal(t, int32(99), block[2].Partition, "nothing is written past the room")

	res = NewState().Observe(time.Time{}, two, FromEarliest, block[2:2:3])
	require.Len(t, res.Ranges, 2, "a room too small is grown elsewhere")
	assert.Equal(t, int32(99), block[2].Partition)
}
