package kafkawakereceiver // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver"

import "time"

// noCommit marks a partition on which the group has no committed offset.
const noCommit int64 = -1

// partitionOffsets is what one scrape read for one partition of a binding.
type partitionOffsets struct {
	highWatermark int64
	logStart      int64
	committed     int64 // noCommit when the group never committed on the partition
}

// observation is a binding's result for one scrape.
type observation struct {
	pending      int64
	consumed     int64     // cumulative since the collector started
	lastActivity time.Time // zero until the first observed activity
}

// offsetRange is the half-open range [from, to) of a partition.
type offsetRange struct{ from, to int64 }

func (r offsetRange) empty() bool { return r.to <= r.from }

// len is the number of offsets in the range, never negative.
func (r offsetRange) len() int64 { return max(0, r.to-r.from) }

// bindingState follows one binding across scrapes. It is plain data: the
// scraper feeds it offsets and a time, so every lag and activity rule can be
// tested without Kafka. It is only fed complete reads: a scrape in which a
// partition could not be read leaves it untouched.
type bindingState struct {
	// prevPosition is, per partition seen at the previous observation, where
	// the group stood: its commit, or the first offset a group without a
	// commit would read (the log start under earliest, the baseline under
	// latest).
	prevPosition   map[int32]int64
	latestBaseline map[int32]int64 // high watermark when a partition was first seen without a commit
	consumed       int64
	lastActivity   time.Time

	// prevEnds holds the end offsets of the previous scrape while the group's
	// commits are unreadable; nil outside that mode.
	prevEnds map[int32]int64
}

func newBindingState() *bindingState {
	return &bindingState{
		prevPosition:   map[int32]int64{},
		latestBaseline: map[int32]int64{},
	}
}

// observe applies the lag and consumption rules (docs/rules.md) to one
// scrape's offsets. perPartition, when not nil, receives each partition's
// pending range.
func (s *bindingState) observe(now time.Time, partitions map[int32]partitionOffsets, reset OffsetReset, perPartition func(int32, offsetRange)) observation {
	var pending, consumedDelta int64
	position := make(map[int32]int64, len(partitions))
	for p, o := range partitions {
		r := s.pendingRange(p, o, reset)
		pending += r.len()
		if perPartition != nil {
			perPartition(p, r)
		}
		if o.committed == noCommit {
			position[p] = r.from
			continue
		}
		// A partition seen for the first time is a baseline. One seen before
		// counts from where the group stood then, its first commit included;
		// a rewind is not consumption, only forward moves count.
		if prev, ok := s.prevPosition[p]; ok {
			consumedDelta += max(0, o.committed-prev)
		}
		position[p] = o.committed
	}
	// Partitions absent from a complete read (a topic re-created with fewer
	// partitions) lose their baselines too, so they start fresh.
	for p := range s.latestBaseline {
		if _, ok := partitions[p]; !ok {
			delete(s.latestBaseline, p)
		}
	}
	s.prevPosition = position
	s.prevEnds = nil
	if consumedDelta > 0 {
		s.consumed += consumedDelta
		s.lastActivity = now
	}
	return observation{pending: pending, consumed: s.consumed, lastActivity: s.lastActivity}
}

// pendingRange is the range of offsets the group still has to read on one
// partition; its start is the first pending offset.
func (s *bindingState) pendingRange(p int32, o partitionOffsets, reset OffsetReset) offsetRange {
	if o.committed != noCommit {
		delete(s.latestBaseline, p)
		// A commit below the log start points at deleted messages; one above
		// the high watermark (stale commit, unclean election) leaves nothing.
		return offsetRange{from: max(o.committed, o.logStart), to: o.highWatermark}
	}
	return offsetRange{from: max(s.startPosition(p, o, reset), o.logStart), to: o.highWatermark}
}

// startPosition is where a group without a commit on the partition would
// start reading: the log start under earliest, and under latest the high
// watermark when the partition was first seen without a commit.
func (s *bindingState) startPosition(p int32, o partitionOffsets, reset OffsetReset) int64 {
	if reset == OffsetResetEarliest {
		return o.logStart
	}
	baseline, ok := s.latestBaseline[p]
	if !ok || o.highWatermark < baseline {
		// First sight, or the partition was truncated or re-created: the
		// group would start from the end, so only what arrives from now counts.
		baseline = o.highWatermark
		s.latestBaseline[p] = baseline
	}
	return baseline
}

// observeProduced is the fallback for a group whose commits cannot be read:
// pending is the number of messages produced since the previous scrape, so
// new messages still wake the function but old ones do not wake it forever.
// The first scrape in this mode is a baseline. Consumption is unknown, so it
// neither grows nor marks activity, and commits seen after the mode ends are
// baselines again.
func (s *bindingState) observeProduced(partitions map[int32]partitionOffsets) observation {
	var pending int64
	ends := make(map[int32]int64, len(partitions))
	for p, o := range partitions {
		ends[p] = o.highWatermark
		if prev, ok := s.prevEnds[p]; ok {
			pending += max(0, o.highWatermark-prev)
		}
	}
	s.prevEnds = ends
	clear(s.prevPosition)
	return observation{pending: pending, consumed: s.consumed, lastActivity: s.lastActivity}
}
