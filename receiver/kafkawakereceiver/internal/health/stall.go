package health

import (
	"time"

	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/offset"
)

// Stalls finds the partitions a live consumer is stuck on (typically a
// poison message): pending messages, members in the group, and a committed
// offset that has not moved for stall_after.
type Stalls struct {
	since map[int32]stallClock
}

type stallClock struct {
	position int64 // the commit, or NoCommit
	since    time.Time
}

// PartitionState is what a stall needs of one partition in one
// observation: its commit (for a share group, its start offset) and
// whether messages are pending on it.
type PartitionState struct {
	Position int64
	Pending  bool
}

// Observe returns how many partitions are stalled at now. The clock of a
// partition starts at the first observation that sees it pending while the
// group has members, and restarts whenever its position moves; a partition
// without a commit counts as unmoved while it stays without one. Without
// members (the function is asleep) or with them unknown, nothing is stalled
// and every clock stops.
func (s *Stalls) Observe(now time.Time, stallAfter time.Duration, partitions map[int32]PartitionState, members int, membersKnown bool) int {
	if !membersKnown || members == 0 {
		clear(s.since)
		return 0
	}
	if s.since == nil {
		s.since = make(map[int32]stallClock)
	}
	stalled := 0
	for p, ps := range partitions {
		if !ps.Pending {
			delete(s.since, p)
			continue
		}
		clock, ok := s.since[p]
		if !ok || clock.position != ps.Position {
			clock = stallClock{position: ps.Position, since: now}
			s.since[p] = clock
		}
		if now.Sub(clock.since) >= stallAfter {
			stalled++
		}
	}
	for p := range s.since {
		if _, ok := partitions[p]; !ok {
			delete(s.since, p)
		}
	}
	return stalled
}

// PartitionStates are the partitions of a lag result as a stall sees them.
func PartitionStates(partitions map[int32]offset.Partition, ranges []offset.PartitionRange) map[int32]PartitionState {
	out := make(map[int32]PartitionState, len(partitions))
	for p, o := range partitions {
		out[p] = PartitionState{Position: o.Committed}
	}
	for _, r := range ranges {
		ps := out[r.Partition]
		ps.Pending = !r.Empty()
		out[r.Partition] = ps
	}
	return out
}
