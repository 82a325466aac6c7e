package offset

import (
	"cmp"
	"iter"
	"maps"
	"slices"
)

// Partitions is one read of a topic's partitions as one group sees them:
// each partition once, in ascending order of its number. It is a flat list
// rather than a map: every binding gets one per scrape, so at 10,000
// bindings of 100 partitions a map per binding was the largest allocation
// of a scrape, and every rule walks the list in order. The zero Partitions
// is empty and ready to use.
type Partitions struct {
	list []numbered
	// queued holds, beside list and only once a share group's partition
	// is set, the fields only share groups use: a consumer group's
	// partition then costs 32 bytes instead of 56 in every binding's read.
	queued []queueFields
}

// numbered is one partition's number and the offsets every group has.
type numbered struct {
	HighWatermark int64
	LogStart      int64
	Committed     int64
	id            int32
	share         bool
}

// queueFields are a share group's fields of a Partition.
type queueFields struct {
	Unacknowledged int64
	TimestampStart int64
}

func split(p int32, o Partition) (numbered, queueFields) {
	return numbered{HighWatermark: o.HighWatermark, LogStart: o.LogStart, Committed: o.Committed, id: p, share: o.Share},
		queueFields{Unacknowledged: o.Unacknowledged, TimestampStart: o.TimestampStart}
}

// NewPartitions returns an empty read with room for n partitions.
func NewPartitions(n int) Partitions {
	return Partitions{list: make([]numbered, 0, n)}
}

// PartitionsOf returns the read of the partitions of m.
func PartitionsOf(m map[int32]Partition) Partitions {
	ps := NewPartitions(len(m))
	for _, p := range slices.Sorted(maps.Keys(m)) {
		ps.Set(p, m[p])
	}
	return ps
}

// Set gives partition p the offsets o. Partitions set in ascending order,
// as reads list them, are appended; any other order is kept sorted.
func (ps *Partitions) Set(p int32, o Partition) {
	n, q := split(p, o)
	if ps.queued == nil && q != (queueFields{}) {
		ps.queued = make([]queueFields, len(ps.list), cap(ps.list))
	}
	if last := len(ps.list); last == 0 || ps.list[last-1].id < p {
		ps.list = append(ps.list, n)
		if ps.queued != nil {
			ps.queued = append(ps.queued, q)
		}
		return
	}
	i, found := ps.search(p)
	switch {
	case found:
		ps.list[i] = n
		if ps.queued != nil {
			ps.queued[i] = q
		}
	default:
		ps.list = slices.Insert(ps.list, i, n)
		if ps.queued != nil {
			ps.queued = slices.Insert(ps.queued, i, q)
		}
	}
}

// Clone returns a read that can be changed without changing ps.
func (ps Partitions) Clone() Partitions {
	return Partitions{list: slices.Clone(ps.list), queued: slices.Clone(ps.queued)}
}

// Len is the number of partitions read.
func (ps Partitions) Len() int { return len(ps.list) }

// Get returns partition p's offsets, and whether the read holds p.
func (ps Partitions) Get(p int32) (Partition, bool) {
	if i, found := ps.search(p); found {
		return ps.at(i), true
	}
	return Partition{}, false
}

// Has tells whether the read holds partition p, without building its
// offsets as Get does.
func (ps Partitions) Has(p int32) bool {
	_, found := ps.search(p)
	return found
}

// All yields each partition and its offsets, in ascending order.
func (ps Partitions) All() iter.Seq2[int32, Partition] {
	return func(yield func(int32, Partition) bool) {
		for i := range ps.list {
			if !yield(ps.list[i].id, ps.at(i)) {
				return
			}
		}
	}
}

// at is the Partition at index i of the list.
func (ps Partitions) at(i int) Partition {
	n := ps.list[i]
	o := Partition{HighWatermark: n.HighWatermark, LogStart: n.LogStart, Committed: n.Committed, Share: n.share}
	if ps.queued != nil {
		o.Unacknowledged, o.TimestampStart = ps.queued[i].Unacknowledged, ps.queued[i].TimestampStart
	}
	return o
}

// search finds p's index, or where p would go.
func (ps Partitions) search(p int32) (int, bool) {
	// Kafka numbers a topic's partitions densely from 0.
	if p >= 0 && int(p) < len(ps.list) && ps.list[p].id == p {
		return int(p), true
	}
	return slices.BinarySearchFunc(ps.list, p, func(n numbered, p int32) int { return cmp.Compare(n.id, p) })
}
