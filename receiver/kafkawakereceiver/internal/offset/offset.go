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
	// Committed is where the group stands: a consumer group's committed
	// offset, or a share group's share-partition start offset (the first
	// record not yet acknowledged). NoCommit when the group has none.
	Committed int64
	// Share marks a share group's partition: what it still has to read is
	// Unacknowledged, the broker's count, not the distance to the end,
	// because records past the start offset may already be acknowledged.
	Share          bool
	Unacknowledged int64
	// TimestampStart is, for a share group that resets by_duration, the
	// first offset newer than the duration: where the group would start on a
	// partition it has not initialised. It is read for no other group.
	TimestampStart int64
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
	// Pending is the number of messages the partition counts: the range's
	// length, or a share group's unacknowledged records within it.
	Pending int64
}

// CommittedRange is what a group with a commit on the partition still has to
// read. A commit below the log start points at deleted messages, so reading
// starts at the log start. A commit beyond the high watermark is the lag
// rules' business (the consumer resets); here it leaves nothing.
func CommittedRange(p Partition) Range {
	return Range{From: max(p.Committed, p.LogStart), To: p.HighWatermark}
}
