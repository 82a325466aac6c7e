package offset

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPartitionsKeepOrderWhateverOrderTheyAreSetIn(t *testing.T) {
	at := func(end int64) Partition { return Partition{HighWatermark: end} }
	for name, order := range map[string][]int32{
		"ascending, as reads list them": {0, 1, 2, 5},
		"descending":                    {5, 2, 1, 0},
		"mixed":                         {2, 0, 5, 1},
	} {
		t.Run(name, func(t *testing.T) {
			var ps Partitions
			for _, p := range order {
				ps.Set(p, at(int64(p)))
			}
			ps.Set(2, at(20)) // setting again replaces
			assert.Equal(t, 4, ps.Len())
			var walked []int32
			for p := range ps.All() {
				walked = append(walked, p)
			}
			assert.Equal(t, []int32{0, 1, 2, 5}, walked, "All yields in ascending order")
			for p, want := range map[int32]int64{0: 0, 1: 1, 2: 20, 5: 5} {
				got, ok := ps.Get(p)
				assert.True(t, ok, "partition %d", p)
				assert.Equal(t, want, got.HighWatermark, "partition %d", p)
				assert.True(t, ps.Has(p), "partition %d", p)
			}
			for _, absent := range []int32{-1, 3, 4, 6, 100} {
				_, ok := ps.Get(absent)
				assert.False(t, ok, "partition %d", absent)
				assert.False(t, ps.Has(absent), "partition %d", absent)
			}
		})
	}
}

func TestPartitionsOfAMapAreSorted(t *testing.T) {
	ps := PartitionsOf(map[int32]Partition{7: {LogStart: 7}, 0: {LogStart: 0}, 3: {LogStart: 3}})
	var walked []int32
	for p, o := range ps.All() {
		assert.Equal(t, int64(p), o.LogStart)
		walked = append(walked, p)
	}
	assert.Equal(t, []int32{0, 3, 7}, walked)
	var empty Partitions
	assert.Zero(t, empty.Len())
	_, ok := empty.Get(0)
	assert.False(t, ok)
}

func TestAClonedReadChangesAlone(t *testing.T) {
	ps := PartitionsOf(map[int32]Partition{0: {HighWatermark: 10}, 1: {HighWatermark: 20}})
	clone := ps.Clone()
	clone.Set(1, Partition{HighWatermark: 15})
	got, _ := ps.Get(1)
	assert.Equal(t, int64(20), got.HighWatermark, "the original keeps its offsets")
	got, _ = clone.Get(1)
	assert.Equal(t, int64(15), got.HighWatermark)
}

// TestAShareGroupsFieldsSurviveAnyOrder: the fields only share groups use
// are kept apart from the rest, and only once one is set; every partition
// still reads back whole, whatever the order and whatever came before.
func TestAShareGroupsFieldsSurviveAnyOrder(t *testing.T) {
	plain := func(end int64) Partition { return Partition{HighWatermark: end, Committed: NoCommit} }
	queued := func(end, unacked, fromTime int64) Partition {
		return Partition{HighWatermark: end, Committed: 3, Share: true, Unacknowledged: unacked, TimestampStart: fromTime}
	}
	want := map[int32]Partition{0: plain(10), 1: queued(11, 4, 0), 2: plain(12), 3: queued(13, 0, 7), 5: queued(15, 2, 1)}
	for name, order := range map[string][]int32{
		"plain ones first":             {0, 2, 1, 3, 5},
		"a queued one first":           {1, 0, 2, 3, 5},
		"inserted before earlier ones": {5, 3, 2, 1, 0},
	} {
		t.Run(name, func(t *testing.T) {
			var ps Partitions
			for _, p := range order {
				ps.Set(p, want[p])
			}
			got := map[int32]Partition{}
			for p, o := range ps.All() {
				got[p] = o
			}
			assert.Equal(t, want, got)

			clone := ps.Clone()
			clone.Set(1, plain(99))
			o, _ := ps.Get(1)
			assert.Equal(t, want[1], o, "a clone's change stays in the clone")
			o, _ = clone.Get(1)
			assert.Equal(t, plain(99), o, "setting a plain partition clears its queue fields")
		})
	}
}
