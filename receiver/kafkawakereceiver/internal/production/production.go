// Package production counts the messages produced to a binding's topic:
// the growth of its partitions' high watermarks, never negative and never
// phantom.
package production // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/production"

import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/offset"

// Counter follows one binding's topic across observations. Only complete
// reads are fed to it.
type Counter struct {
	started bool
	topicID [16]byte
	// ends are the previous observation's high watermarks; spare is the
	// map the next one fills, so that observations allocate nothing.
	ends, spare map[int32]int64
	total       int64
}

// Observe adds one observation of the topic's partitions and returns the
// messages produced since the binding's first observation:
//   - the first observation is a baseline;
//   - a partition first seen later (added, or its topic created or
//     re-created since: a new topic ID) counts its retained messages, HW − LS;
//   - a partition seen before counts its high watermark's growth; one that
//     went backwards (truncated) counts 0 and continues from there.
//
// The log start never counts: DeleteRecords deletes, it does not produce.
func (c *Counter) Observe(topicID [16]byte, partitions map[int32]offset.Partition) int64 {
	recreated := c.started && topicID != c.topicID
	ends := c.spare
	if ends == nil {
		ends = make(map[int32]int64, len(partitions))
	}
	clear(ends)
	for p, o := range partitions {
		ends[p] = o.HighWatermark
		prev, seen := c.ends[p]
		switch {
		case !c.started:
		case !seen || recreated:
			c.total += max(0, o.HighWatermark-o.LogStart)
		default:
			c.total += max(0, o.HighWatermark-prev)
		}
	}
	c.started, c.topicID, c.ends, c.spare = true, topicID, ends, c.ends
	return c.total
}
