package production

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/offset"
)

func TestProducedMessages(t *testing.T) {
	topic, recreated := [16]byte{1}, [16]byte{2}
	hw := func(ends ...int64) map[int32]offset.Partition {
		m := make(map[int32]offset.Partition, len(ends))
		for p, e := range ends {
			m[int32(p)] = offset.Partition{HighWatermark: e, Committed: offset.NoCommit}
		}
		return m
	}
	withStart := func(parts map[int32]offset.Partition, p int32, start int64) map[int32]offset.Partition {
		o := parts[p]
		o.LogStart = start
		parts[p] = o
		return parts
	}
	steps := []struct {
		name       string
		id         [16]byte
		partitions map[int32]offset.Partition
		want       int64
	}{
		{"the first observation is a baseline", topic, hw(100, 50), 0},
		{"high watermarks grow", topic, hw(130, 55), 35},
		{"nothing new", topic, hw(130, 55), 35},
		{"DeleteRecords moves the log start only", topic, withStart(hw(130, 55), 0, 120), 35},
		{"an added partition counts what it retains", topic, withStart(hw(131, 55, 9), 2, 4), 41},
		{"a truncated partition counts 0, then grows from its new end", topic, hw(131, 20, 9), 41},
		{"growth after the truncation", topic, hw(131, 23, 9), 44},
		{"a removed partition produces nothing", topic, hw(132, 24), 46},
		{"a re-created topic counts what the new one retains", recreated, hw(5, 7), 58},
		{"and grows from there", recreated, hw(6, 7), 59},
	}
	var c Counter
	for _, st := range steps {
		assert.Equal(t, st.want, c.Observe(st.id, offset.PartitionsOf(st.partitions)), st.name)
	}
}

// Two bindings of one topic, the second first observed two observations
// later and then missing one, count what their own counters would.
func TestBindingsCountFromTheirOwnFirstObservation(t *testing.T) {
	topic := [16]byte{1}
	ends := func(e0, e1 int64) offset.Partitions {
		return offset.PartitionsOf(map[int32]offset.Partition{0: {HighWatermark: e0}, 1: {HighWatermark: e1}})
	}
	observations := []offset.Partitions{ends(10, 10), ends(15, 12), ends(20, 12), ends(26, 13), ends(30, 20)}
	var shared Counter
	var first, second Baseline
	var own Counter
	for i, o := range observations {
		total := shared.Observe(topic, o)
		ownTotal := int64(0)
		if i >= 2 && i != 3 {
			ownTotal = own.Observe(topic, o)
		}
		assert.Equal(t, total, first.Since(total), "observation %d: the first binding counts the topic", i)
		if i >= 2 && i != 3 {
			assert.Equal(t, ownTotal, second.Since(total), "observation %d: the second binding counts from its first observation", i)
		}
	}
	assert.Equal(t, int64(30), shared.Observe(topic, ends(30, 20)))
}
