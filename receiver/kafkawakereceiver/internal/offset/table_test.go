package offset

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestTableHoldsOneValuePerPartition(t *testing.T) {
	var tb Table
	_, ok := tb.Get(0)
	assert.False(t, ok, "the zero table is empty")

	tb.Set(3, 30)
	tb.Set(0, 0)
	v, ok := tb.Get(3)
	assert.True(t, ok)
	assert.Equal(t, int64(30), v)
	v, ok = tb.Get(0)
	assert.True(t, ok, "0 is a value, not an absence")
	assert.Equal(t, int64(0), v)
	_, ok = tb.Get(1)
	assert.False(t, ok, "the partitions between two set ones have no value")
	_, ok = tb.Get(-1)
	assert.False(t, ok)
	tb.Set(-1, 5)
	_, ok = tb.Get(-1)
	assert.False(t, ok, "negative partitions are never stored")

	tb.Delete(3)
	_, ok = tb.Get(3)
	assert.False(t, ok)
	tb.Delete(100) // beyond the table: nothing to delete

	tb.Set(1, 10)
	tb.Set(2, 20)
	tb.Retain(PartitionsOf(map[int32]Partition{1: {}, 5: {}}))
	_, ok = tb.Get(0)
	assert.False(t, ok, "a partition absent from a complete read is gone")
	_, ok = tb.Get(2)
	assert.False(t, ok)
	v, ok = tb.Get(1)
	assert.True(t, ok)
	assert.Equal(t, int64(10), v)

	tb.Clear()
	_, ok = tb.Get(1)
	assert.False(t, ok, "Clear removes every value")
	tb.Set(0, 7)
	v, _ = tb.Get(0)
	assert.Equal(t, int64(7), v, "a cleared table takes new values")
}

func TestTableKeepsItsMemoryAcrossClears(t *testing.T) {
	var tb Table
	tb.Grow(100)
	assert.Equal(t, 100, cap(tb.values), "exactly the room asked for")
	for p := range int32(100) {
		tb.Set(p, int64(p))
	}
	allocs := testing.AllocsPerRun(10, func() {
		tb.Clear()
		for p := range int32(100) {
			tb.Set(p, int64(p))
		}
	})
	assert.Zero(t, allocs)
	assert.Equal(t, 100, cap(tb.values))
}
