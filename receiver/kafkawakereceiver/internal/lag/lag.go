// Package lag applies the lag and consumption rules of docs/rules.md to one
// binding's offsets, observation after observation. It is plain data and
// pure functions of their inputs and an injected time, so every rule can be
// tested without Kafka.
package lag // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/lag"

import (
	"slices"
	"time"

	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/offset"
)

// Reset says where a group without a commit on a partition starts reading,
// as the function's consumer would.
type Reset int

const (
	// FromEarliest starts at the log start: every retained message counts.
	FromEarliest Reset = iota
	// FromLatest starts at the high watermark of the partition's first sight
	// without a commit: only messages produced since count.
	FromLatest
	// FromTimestamp starts at the partition's TimestampStart: the messages
	// newer than a share group's by_duration count.
	FromTimestamp
)

// Result is a binding's lag in one observation.
type Result struct {
	Pending int64
	// PartitionsPending counts the partitions with messages pending.
	PartitionsPending int
	Consumed          int64     // cumulative since the binding's first observation here
	LastActivity      time.Time // zero until the first observed activity
	// Ranges are the partitions' pending ranges, by partition, written in
	// the room the observation was given.
	Ranges []offset.PartitionRange
	// OutOfRange lists, by partition, the partitions whose commit is beyond
	// their end. It is valid until the next observation of the same State,
	// which reuses it.
	OutOfRange []int32
}

// State follows one binding across observations. It is only fed complete
// reads: an observation in which a partition could not be read leaves it
// untouched.
type State struct {
	// position is, per partition seen at the previous observation, where
	// the group stood: its commit, or the first offset a group without a
	// commit would read (the log start under earliest, the baseline under
	// latest). An observation replaces each partition's entry after reading
	// it, so one table serves both observations and a steady binding
	// allocates nothing.
	position       offset.Table
	latestBaseline offset.Table // high watermark when a partition was first seen without a commit
	consumed       int64
	lastActivity   time.Time

	// prevEnds holds the end offsets of the previous observation while the
	// group's commits are unreadable (producedMode).
	prevEnds     offset.Table
	producedMode bool

	outOfRange []int32
}

// NewState returns the state of a binding not observed yet: its first
// observation is a baseline.
func NewState() *State {
	return &State{}
}

// Observe applies the lag and consumption rules to one observation's
// offsets. The pending ranges are written into room, grown when it has less
// capacity than one range per partition: the ranges belong to the
// observation, not to the State, so a caller observing many bindings can
// give each a part of one block and free it when the observation is done,
// instead of every binding keeping its ranges between observations.
func (s *State) Observe(now time.Time, partitions offset.Partitions, reset Reset, room []offset.PartitionRange) Result {
	var pending, consumedDelta int64
	partitionsPending := 0
	s.position.Grow(partitions.Len())
	// The read lists partitions in order, so the ranges come out sorted.
	ranges := slices.Grow(room[:0], partitions.Len())
	s.outOfRange = s.outOfRange[:0]
	for p, o := range partitions.All() {
		if beyondEnd(o) {
			// The consumer finds its offset out of range and resets: the
			// partition counts as if the group had no commit on it.
			o.Committed = offset.NoCommit
			s.outOfRange = append(s.outOfRange, p)
		}
		r := s.pendingRange(p, o, reset)
		count := r.Len()
		if o.Share && o.Committed != offset.NoCommit {
			count = o.Unacknowledged
			if count == 0 {
				// Everything past the start offset is acknowledged: nothing
				// waits, whatever the offsets say.
				r.From = r.To
			}
		}
		pending += count
		if count > 0 {
			partitionsPending++
		}
		ranges = append(ranges, offset.PartitionRange{Partition: p, Range: r, Pending: count})
		if o.Committed == offset.NoCommit {
			s.position.Set(p, r.From)
			continue
		}
		// A partition seen for the first time is a baseline. One seen before
		// counts from where the group stood then, its first commit included;
		// a rewind is not consumption, only forward moves count.
		if prev, ok := s.position.Get(p); ok {
			consumedDelta += max(0, o.Committed-prev)
		}
		s.position.Set(p, o.Committed)
	}
	// Partitions absent from a complete read (a topic re-created with fewer
	// partitions) lose their baselines too, so they start fresh.
	s.latestBaseline.Retain(partitions)
	s.position.Retain(partitions)
	s.prevEnds.Clear()
	s.producedMode = false
	if consumedDelta > 0 {
		s.consumed += consumedDelta
		s.lastActivity = now
	}
	return Result{Pending: pending, PartitionsPending: partitionsPending, Consumed: s.consumed, LastActivity: s.lastActivity, Ranges: ranges, OutOfRange: s.outOfRange}
}

// beyondEnd tells whether the group's commit on a partition is past its end:
// the topic was re-created under the same name, or the offset was set by
// hand. Kafka answers such a consumer OFFSET_OUT_OF_RANGE, and the consumer
// resets by its auto.offset.reset.
func beyondEnd(o offset.Partition) bool {
	return o.Committed != offset.NoCommit && o.Committed > o.HighWatermark
}

// pendingRange is the range of offsets the group still has to read on one
// partition; its start is the first pending offset.
func (s *State) pendingRange(p int32, o offset.Partition, reset Reset) offset.Range {
	if o.Committed != offset.NoCommit {
		s.latestBaseline.Delete(p)
		return offset.CommittedRange(o)
	}
	return offset.Range{From: max(s.startPosition(p, o, reset), o.LogStart), To: o.HighWatermark}
}

// startPosition is where a group without a commit on the partition would
// start reading: the log start under earliest, and under latest the high
// watermark when the partition was first seen without a commit.
func (s *State) startPosition(p int32, o offset.Partition, reset Reset) int64 {
	switch reset {
	case FromEarliest:
		return o.LogStart
	case FromTimestamp:
		return o.TimestampStart
	}
	baseline, ok := s.latestBaseline.Get(p)
	if !ok || o.HighWatermark < baseline {
		// First sight, or the partition was truncated or re-created: the
		// group would start from the end, so only what arrives from now counts.
		baseline = o.HighWatermark
		s.latestBaseline.Set(p, baseline)
	}
	return baseline
}

// ObserveProduced is the fallback for a group whose commits cannot be read:
// pending is the number of messages produced since the previous
// observation, so new messages still wake the function but old ones do not
// wake it forever. The first observation in this mode is a baseline.
// Consumption is unknown, so it neither grows nor marks activity, and
// commits seen after the mode ends are baselines again. The result has no
// ranges: nothing is known of where the group stands.
func (s *State) ObserveProduced(partitions offset.Partitions) Result {
	var pending int64
	partitionsPending := 0
	if !s.producedMode {
		s.prevEnds.Clear()
	}
	s.prevEnds.Grow(partitions.Len())
	for p, o := range partitions.All() {
		if prev, ok := s.prevEnds.Get(p); ok && o.HighWatermark > prev {
			pending += o.HighWatermark - prev
			partitionsPending++
		}
		s.prevEnds.Set(p, o.HighWatermark)
	}
	s.prevEnds.Retain(partitions)
	s.producedMode = true
	s.position.Clear()
	return Result{Pending: pending, PartitionsPending: partitionsPending, Consumed: s.consumed, LastActivity: s.lastActivity}
}
