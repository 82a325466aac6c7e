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

// Observe returns how many partitions are stalled at now, from the
// partitions' commits (for a share group, their start offsets) and their
// pending ranges. The clock of a partition starts at the first observation
// that sees it pending while the group has members, and restarts whenever
// its position moves; a partition without a commit counts as unmoved while
// it stays without one. Without members (the function is asleep) or with
// them unknown, nothing is stalled and every clock stops.
func (s *Stalls) Observe(now time.Time, stallAfter time.Duration, partitions offset.Partitions, pending []offset.PartitionRange, members int, membersKnown bool) int {
	if !membersKnown || members == 0 {
		clear(s.since)
		return 0
	}
	if s.since == nil {
		s.since = make(map[int32]stallClock)
	}
	stalled := 0
	for _, r := range pending {
		if r.Empty() {
			delete(s.since, r.Partition)
			continue
		}
		read, _ := partitions.Get(r.Partition)
		position := read.Committed
		clock, ok := s.since[r.Partition]
		if !ok || clock.position != position {
			clock = stallClock{position: position, since: now}
			s.since[r.Partition] = clock
		}
		if now.Sub(clock.since) >= stallAfter {
			stalled++
		}
	}
	for p := range s.since {
		if _, ok := partitions.Get(p); !ok {
			delete(s.since, p)
		}
	}
	return stalled
}
