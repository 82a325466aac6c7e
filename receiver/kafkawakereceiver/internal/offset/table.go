package offset

import "math"

// absent marks a partition a Table holds no value for. No offset or count
// the rules keep is ever this low.
const absent int64 = math.MinInt64

// Table holds at most one int64 per partition of one topic, indexed by the
// partition's number. Kafka numbers a topic's partitions densely from 0, so
// a slice costs 8 bytes a partition where a map costs several times that:
// at 10,000 bindings of 100 partitions each, the rules' memories are the
// receiver's largest state. The zero Table is empty and ready to use.
type Table struct {
	values []int64
}

// Get returns the value of partition p, and whether it has one.
func (t *Table) Get(p int32) (int64, bool) {
	if p < 0 || int(p) >= len(t.values) || t.values[p] == absent {
		return 0, false
	}
	return t.values[p], true
}

// Set gives partition p the value v. Negative partition numbers, which
// Kafka never uses, are ignored.
func (t *Table) Set(p int32, v int64) {
	if p < 0 {
		return
	}
	if int(p) >= len(t.values) {
		// Exactly as long as needed: append's doubling would make most
		// tables of 100 partitions hold 128.
		t.Grow(int(p) + 1)
		for int(p) >= len(t.values) {
			t.values = append(t.values, absent)
		}
	}
	t.values[p] = v
}

// Grow makes room for partitions 0 to n−1 without a later allocation.
func (t *Table) Grow(n int) {
	if n > cap(t.values) {
		grown := make([]int64, len(t.values), n)
		copy(grown, t.values)
		t.values = grown
	}
}

// Delete removes partition p's value.
func (t *Table) Delete(p int32) {
	if p >= 0 && int(p) < len(t.values) {
		t.values[p] = absent
	}
}

// Clear removes every value and keeps the memory for the next ones.
func (t *Table) Clear() { t.values = t.values[:0] }

// Retain removes the value of every partition that read does not hold: a
// complete read of a topic is the list of its partitions, so those it lacks
// are gone.
func (t *Table) Retain(read Partitions) {
	for p, v := range t.values {
		if v != absent && !read.Has(int32(p)) {
			t.values[p] = absent
		}
	}
}
