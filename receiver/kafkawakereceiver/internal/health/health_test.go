package health

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/offset"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/rates"
)

func TestStatusOf(t *testing.T) {
	window := func(produced, consumed int64) rates.Change {
		return rates.Change{Produced: produced, Consumed: consumed, Span: time.Minute}
	}
	members := func(n int) Figures {
		return Figures{Read: true, Pending: 10, Members: n, MembersKnown: true, WindowKnown: true}
	}
	with := func(f Figures, change func(*Figures)) Figures { change(&f); return f }
	tests := []struct {
		name    string
		figures Figures
		want    Status
	}{
		{"unreadable, whatever else", Figures{Read: false, Pending: 10, StalledPartitions: 2}, Error},
		{"a stalled partition first", with(members(2), func(f *Figures) { f.StalledPartitions = 1 }), Stalled},
		{"nothing pending", with(members(0), func(f *Figures) { f.Pending = 0 }), Idle},
		{"work and nobody consuming", members(0), Waiting},
		{"consuming faster than producing", with(members(2), func(f *Figures) { f.Window = window(10, 30) }), Draining},
		{"consuming as fast as producing", with(members(2), func(f *Figures) { f.Window = window(30, 30) }), FallingBehind},
		{"members that read nothing", with(members(2), func(f *Figures) { f.Window = window(0, 0) }), FallingBehind},
		{"members, no window yet", with(members(2), func(f *Figures) { f.WindowKnown = false }), FallingBehind},
		{"members unknown, nothing consumed: waiting", Figures{Read: true, Pending: 10, WindowKnown: true, Window: window(5, 0)}, Waiting},
		{"members unknown, consuming faster", Figures{Read: true, Pending: 10, WindowKnown: true, Window: window(5, 9)}, Draining},
		{"members unknown, consuming slower", Figures{Read: true, Pending: 10, WindowKnown: true, Window: window(9, 5)}, FallingBehind},
		{"members unknown, no window yet", Figures{Read: true, Pending: 10}, Waiting},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want.String(), StatusOf(tt.figures).String())
		})
	}
	assert.Equal(t, []string{"error", "stalled", "waiting", "falling_behind", "draining", "idle"}, func() []string {
		var names []string
		for _, s := range Statuses {
			names = append(names, s.String())
		}
		return names
	}(), "the order alerts and dashboards rely on")
}

func TestLostMessagesAreCountedOnce(t *testing.T) {
	part := func(hw, ls, c int64) offset.Partition {
		return offset.Partition{HighWatermark: hw, LogStart: ls, Committed: c}
	}
	steps := []struct {
		name       string
		partitions map[int32]offset.Partition
		wantTotal  int64
		wantFound  []Loss
	}{
		{"a loss at the first observation is a baseline", map[int32]offset.Partition{0: part(100, 30, 20), 1: part(50, 0, 10)}, 0, []Loss{{Partition: 0, Messages: 10, Baseline: true}}},
		{"seen again: nothing new", map[int32]offset.Partition{0: part(100, 30, 20), 1: part(50, 0, 10)}, 0, nil},
		{"DeleteRecords past the commit of partition 1", map[int32]offset.Partition{0: part(100, 30, 20), 1: part(50, 25, 10)}, 15, []Loss{{Partition: 1, Messages: 15}}},
		{"a second DeleteRecords counts only the newly deleted", map[int32]offset.Partition{0: part(100, 30, 20), 1: part(50, 40, 10)}, 30, []Loss{{Partition: 1, Messages: 15}}},
		{"the group resets past the log start: no loss", map[int32]offset.Partition{0: part(100, 30, 35), 1: part(50, 40, 40)}, 30, nil},
		{"retention passes its new commit", map[int32]offset.Partition{0: part(100, 50, 35), 1: part(50, 40, 40)}, 45, []Loss{{Partition: 0, Messages: 15}}},
	}
	var l Losses
	for _, st := range steps {
		total, found := l.Observe(offset.PartitionsOf(st.partitions))
		assert.Equal(t, st.wantTotal, total, st.name)
		assert.ElementsMatch(t, st.wantFound, found, st.name)
	}
}

func TestANeverCommittedGroupLosesNothing(t *testing.T) {
	var l Losses
	l.Observe(offset.PartitionsOf(map[int32]offset.Partition{0: {HighWatermark: 100, LogStart: 0, Committed: offset.NoCommit}}))
	total, found := l.Observe(offset.PartitionsOf(map[int32]offset.Partition{0: {HighWatermark: 100, LogStart: 90, Committed: offset.NoCommit}}))
	assert.Zero(t, total)
	assert.Empty(t, found)
}

// partitionsAt is one observation of partitions for a stall: each
// partition's commit, and whether messages are pending on it.
type partitionsAt map[int32]struct {
	commit  int64
	pending bool
}

func (ps partitionsAt) observe(s *Stalls, now time.Time, after time.Duration, members int, known bool) int {
	partitions := map[int32]offset.Partition{}
	var ranges []offset.PartitionRange
	for p, st := range ps {
		partitions[p] = offset.Partition{HighWatermark: 100, Committed: st.commit}
		r := offset.Range{From: 100, To: 100}
		if st.pending {
			r.From = 50
		}
		ranges = append(ranges, offset.PartitionRange{Partition: p, Range: r})
	}
	return s.Observe(now, after, offset.PartitionsOf(partitions), ranges, members, known)
}

func TestStalls(t *testing.T) {
	start := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	const after = 2 * time.Minute
	stuck := partitionsAt{0: {40, true}, 1: {7, false}}
	var s Stalls
	assert.Equal(t, 0, stuck.observe(&s, start, after, 1, true), "the clock starts now")
	assert.Equal(t, 0, stuck.observe(&s, start.Add(after-time.Second), after, 1, true))
	assert.Equal(t, 1, stuck.observe(&s, start.Add(after), after, 1, true), "unmoved for stall_after with a member")
	moved := partitionsAt{0: {41, true}}
	assert.Equal(t, 0, moved.observe(&s, start.Add(after+time.Second), after, 1, true), "the commit moved: the clock restarts")
	assert.Equal(t, 0, moved.observe(&s, start.Add(3*after), after, 0, true), "no member: asleep, waiting, never stalled")
	assert.Equal(t, 0, moved.observe(&s, start.Add(3*after+time.Second), after, 2, true), "members back: the clock starts again")
	assert.Equal(t, 0, moved.observe(&s, start.Add(4*after), after, 0, false), "members unknown: not stalled")
	noCommit := partitionsAt{0: {offset.NoCommit, true}}
	noCommit.observe(&s, start.Add(5*after), after, 1, true)
	assert.Equal(t, 1, noCommit.observe(&s, start.Add(6*after), after, 1, true), "without a commit, unmoved while it stays without one")
	drained := partitionsAt{0: {offset.NoCommit, false}}
	assert.Equal(t, 0, drained.observe(&s, start.Add(6*after+time.Second), after, 1, true), "nothing pending: cleared")
}
