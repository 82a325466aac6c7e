package kafkawakereceiver

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/offset"
)

// TestRangeBlocksHandOutRoomsThatNeverOverlap: each binding's room has
// exactly its capacity, filling one never writes into the next, and a
// room larger than a block gets a block of its own.
func TestRangeBlocksHandOutRoomsThatNeverOverlap(t *testing.T) {
	var blocks rangeBlocks
	sizes := []int{3, rangeBlockSize - 4, 2, rangeBlockSize + 1, 5}
	rooms := make([][]offset.PartitionRange, len(sizes))
	for i, n := range sizes {
		rooms[i] = blocks.room(n)
		require.Empty(t, rooms[i])
		require.Equal(t, n, cap(rooms[i]), "room %d", i)
	}
	for i, room := range rooms {
		for range cap(room) {
			room = append(room, offset.PartitionRange{Partition: int32(i)})
		}
		rooms[i] = room
	}
	for i, room := range rooms {
		for _, r := range room {
			if r.Partition != int32(i) {
				assert.Failf(t, "rooms overlap", "room %d holds a range written in room %d", i, r.Partition)
				break
			}
		}
	}
}
