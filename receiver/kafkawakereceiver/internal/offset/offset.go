// Package offset holds the offset types every rule of the receiver shares,
// and the one rule they all apply: where a group's pending messages start.
package offset // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/offset"

// NoCommit marks a partition on which the group has no committed offset.
const NoCommit int64 = -1

// TopicPartition names one partition of one topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// Partition is what one observation read for one partition of a binding.
type Partition struct {
	HighWatermark int64
	LogStart      int64
	Committed     int64 // NoCommit when the group never committed on the partition
}

// Range is the half-open range [From, To) of a partition.
type Range struct{ From, To int64 }

// Empty tells whether the range holds no offset.
func (r Range) Empty() bool { return r.To <= r.From }

// Len is the number of offsets in the range, never negative.
func (r Range) Len() int64 { return max(0, r.To-r.From) }

// PartitionRange is one partition's pending range in one observation.
type PartitionRange struct {
	Partition int32
	Range
}

// CommittedRange is what a group with a commit on the partition still has to
// read. A commit below the log start points at deleted messages, so reading
// starts at the log start. A commit beyond the high watermark is the lag
// rules' business (the consumer resets); here it leaves nothing.
func CommittedRange(p Partition) Range {
	return Range{From: max(p.Committed, p.LogStart), To: p.HighWatermark}
}
