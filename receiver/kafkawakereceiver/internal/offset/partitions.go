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
}

type numbered struct {
	id int32
	Partition
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
	if n := len(ps.list); n == 0 || ps.list[n-1].id < p {
		ps.list = append(ps.list, numbered{id: p, Partition: o})
		return
	}
	i, found := ps.search(p)
	if found {
		ps.list[i].Partition = o
		return
	}
	ps.list = slices.Insert(ps.list, i, numbered{id: p, Partition: o})
}

// Clone returns a read that can be changed without changing ps.
func (ps Partitions) Clone() Partitions { return Partitions{list: slices.Clone(ps.list)} }

// Len is the number of partitions read.
func (ps Partitions) Len() int { return len(ps.list) }

// Get returns partition p's offsets, and whether the read holds p.
func (ps Partitions) Get(p int32) (Partition, bool) {
	if i, found := ps.search(p); found {
		return ps.list[i].Partition, true
	}
	return Partition{}, false
}

// All yields each partition and its offsets, in ascending order.
func (ps Partitions) All() iter.Seq2[int32, Partition] {
	return func(yield func(int32, Partition) bool) {
		for _, n := range ps.list {
			if !yield(n.id, n.Partition) {
				return
			}
		}
	}
}

// search finds p's index, or where p would go.
func (ps Partitions) search(p int32) (int, bool) {
	// Kafka numbers a topic's partitions densely from 0.
	if p >= 0 && int(p) < len(ps.list) && ps.list[p].id == p {
		return int(p), true
	}
	return slices.BinarySearchFunc(ps.list, p, func(n numbered, p int32) int { return cmp.Compare(n.id, p) })
}
