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

// bindingState follows one binding across scrapes. It is plain data: the
// scraper feeds it offsets and a time, so every lag and activity rule can be
// tested without Kafka.
type bindingState struct {
	prevCommitted  map[int32]int64 // commits of the previous observation, only partitions that had one
	latestBaseline map[int32]int64 // high watermark when a partition was first seen without a commit
	consumed       int64
	lastActivity   time.Time

	// prevEnds holds the end offsets of the previous scrape while the group's
	// commits are unreadable; nil outside that mode.
	prevEnds map[int32]int64

	// prevRanges are the pending ranges of committed partitions at the
	// previous observation; checkedRanges those already checked for
	// readable records, each with its verdict, kept while unchanged.
	prevRanges    map[int32]offsetRange
	checkedRanges map[int32]rangeVerdict
}

// rangeVerdict is the outcome of checking a pending range for readable
// records; empty ranges (transaction markers only) count 0.
type rangeVerdict struct {
	offsetRange
	empty bool
}

func newBindingState() *bindingState {
	return &bindingState{
		prevCommitted:  map[int32]int64{},
		latestBaseline: map[int32]int64{},
		prevRanges:     map[int32]offsetRange{},
		checkedRanges:  map[int32]rangeVerdict{},
	}
}

// committedRange is what a group with a commit still has to read.
func committedRange(o partitionOffsets) offsetRange {
	return offsetRange{from: max(o.committed, o.logStart), to: o.highWatermark}
}

// residueSuspects returns the committed partitions whose pending range may be
// made only of transaction markers: non-empty, not yet checked, and either
// seen for the first time or unchanged since the previous observation. A
// range that moves is a live partition and is left alone, and a range is
// checked once whatever the verdict, which keeps the checks rare.
func (s *bindingState) residueSuspects(partitions map[int32]partitionOffsets) map[int32]offsetRange {
	suspects := map[int32]offsetRange{}
	for p, o := range partitions {
		if o.committed == noCommit {
			continue
		}
		r := committedRange(o)
		if r.empty() || s.checkedRanges[p].offsetRange == r {
			continue
		}
		if prev, seen := s.prevRanges[p]; !seen || prev == r {
			suspects[p] = r
		}
	}
	return suspects
}

// markChecked records whether partition p's range r holds no readable record.
func (s *bindingState) markChecked(p int32, r offsetRange, empty bool) {
	s.checkedRanges[p] = rangeVerdict{offsetRange: r, empty: empty}
}

// observe applies the lag and consumption rules (docs/rules.md) to one
// scrape's offsets. perPartition, when not nil, receives each partition's
// pending count.
func (s *bindingState) observe(now time.Time, partitions map[int32]partitionOffsets, reset OffsetReset, perPartition func(int32, int64)) observation {
	var pending, consumedDelta int64
	committed := make(map[int32]int64, len(partitions))
	for p, o := range partitions {
		partitionPending := s.partitionPending(p, o, reset)
		pending += partitionPending
		if perPartition != nil {
			perPartition(p, partitionPending)
		}
		if o.committed == noCommit {
			continue
		}
		committed[p] = o.committed
		// Only partitions with a commit in the previous observation count,
		// so the first observation is a baseline.
		if prev, ok := s.prevCommitted[p]; ok {
			// A rewind is not consumption; only forward moves count.
			consumedDelta += max(0, o.committed-prev)
		}
	}
	// Partitions that disappeared lose their baselines too, so a re-created
	// partition starts fresh.
	for p := range s.latestBaseline {
		if _, ok := partitions[p]; !ok {
			delete(s.latestBaseline, p)
		}
	}
	s.prevCommitted = committed
	s.prevEnds = nil
	s.rememberRanges(partitions)
	if consumedDelta > 0 {
		s.consumed += consumedDelta
		s.lastActivity = now
	}
	return observation{pending: pending, consumed: s.consumed, lastActivity: s.lastActivity}
}

// partitionPending is the number of messages the group still has to read on
// one partition.
func (s *bindingState) partitionPending(p int32, o partitionOffsets, reset OffsetReset) int64 {
	if o.committed != noCommit {
		delete(s.latestBaseline, p)
		r := committedRange(o)
		if v := s.checkedRanges[p]; v.empty && v.offsetRange == r {
			return 0
		}
		// A commit below the log start points at deleted messages; one above
		// the high watermark (stale commit, unclean election) leaves nothing.
		return max(0, r.to-r.from)
	}
	if reset == OffsetResetEarliest {
		return max(0, o.highWatermark-o.logStart)
	}
	baseline, ok := s.latestBaseline[p]
	if !ok || o.highWatermark < baseline {
		// First sight, or the partition was truncated or re-created: the
		// group would start from the end, so only what arrives from now counts.
		baseline = o.highWatermark
		s.latestBaseline[p] = baseline
	}
	return max(0, o.highWatermark-max(baseline, o.logStart))
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
	s.prevCommitted = map[int32]int64{}
	return observation{pending: pending, consumed: s.consumed, lastActivity: s.lastActivity}
}

// rememberRanges keeps this observation's committed ranges for the next
// residue check, and forgets verdicts about ranges that have moved.
func (s *bindingState) rememberRanges(partitions map[int32]partitionOffsets) {
	clear(s.prevRanges)
	for p, o := range partitions {
		if o.committed != noCommit {
			s.prevRanges[p] = committedRange(o)
		}
	}
	for p, v := range s.checkedRanges {
		if s.prevRanges[p] != v.offsetRange {
			delete(s.checkedRanges, p)
		}
	}
}
