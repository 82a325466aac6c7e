package kafkaread

import (
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/kafkawake/kafkawake/internal/kafkatest"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/offset"
)

// TestAMovedLeaderIsFollowedInTheScrapesLayout: partition 1 changes leader
// after the scrape read its metadata. Its old leader answers that it no
// longer leads it, the partition is asked again at the new leader, and the
// snapshot's layout names the new leader from then on, so that what polls
// by it (the watch) does not ask the old one until the next scrape.
func TestAMovedLeaderIsFollowedInTheScrapesLayout(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(3, "events"))
	moving := offset.TopicPartition{Topic: "events", Partition: 1}
	const from, to int32 = 0, 2
	require.NoError(t, c.Kfake.MoveTopicPartition(moving.Topic, moving.Partition, from))
	c.Produce("events", 1, 4)

	// The first ListOffsets waits, while the cluster runs on, for the
	// partition to move; the old leader then answers it, and no longer
	// leads the partition.
	var moved atomic.Bool
	c.Kfake.ControlKey(int16(kmsg.ListOffsets), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.Kfake.KeepControl()
		if moved.CompareAndSwap(false, true) {
			c.Kfake.SleepControl(func() {
				assert.NoError(t, c.Kfake.MoveTopicPartition(moving.Topic, moving.Partition, to))
			})
		}
		return nil, nil, false
	})

	r := NewReader(c.Client, ReaderConfig{AskMovedAgain: true})
	snapshot := r.Read(c.Ctx(), Query{Topics: []string{"events"}})
	require.True(t, moved.Load())
	assert.Equal(t, int64(4), snapshot.End(moving), "asked again at the new leader")
	leader, ok := snapshot.Leader(moving)
	require.True(t, ok)
	assert.Equal(t, to, leader, "the scrape's layout follows the move")
}

// The describes go to the coordinators the committed offsets' read found,
// and look none up themselves. One that finds the group's coordinator moved
// (NOT_COORDINATOR) is answered through the client in the same call, and
// the coordinator is forgotten: the describes go through the client until
// the next offsets' read looks it up again, and use it from then on.
func TestDescribesUseTheCoordinatorsTheOffsetsReadFound(t *testing.T) {
	for kind, describe := range map[GroupKind]kmsg.Key{KindClassic: kmsg.DescribeGroups, KindConsumer: kmsg.ConsumerGroupDescribe} {
		t.Run(describe.Name(), func(t *testing.T) {
			// OffsetFetch capped at the last version that names topics, as
			// the receiver's client is: the direct path needs the names.
			versions := kversion.Stable()
			versions.SetMaxKeyVersion(kmsg.OffsetFetch.Int16(), 9)
			c := kafkatest.NewAs(t, []kgo.Opt{kgo.MaxVersions(versions)}, kfake.SeedTopics(1, "orders"))
			c.Commit("g", "orders", 0, 0)
			r := NewReader(c.Client, ReaderConfig{})
			members := func() GroupMembers { return r.Members(c.Ctx(), map[string]GroupKind{"g": kind})["g"] }
			readOffsets := func() {
				answer := r.readGroups(c.Ctx(), []string{"g"})["g"]
				require.NoError(t, answer.err)
			}
			lookups := c.CountCoordinatorLookups("g")
			readOffsets()
			require.Positive(t, lookups.Load(), "the offsets' read finds the coordinator")

			lookups.Store(0)
			require.NoError(t, members().Err)
			assert.Zero(t, lookups.Load(), "the describe goes to the coordinator found")

			c.Kfake.Fault(kfake.Fault{Keys: []kmsg.Key{describe}, Group: "g", Err: kerr.NotCoordinator, Count: 1})
			require.NoError(t, members().Err, "answered through the client in the same call")

			lookups.Store(0)
			require.NoError(t, members().Err)
			assert.Zero(t, lookups.Load(), "the describes look no coordinator up themselves (the client's, found a moment ago, answers)")

			lookups.Store(0)
			readOffsets()
			assert.Positive(t, lookups.Load(), "the next offsets' read looks the coordinator up again")
			lookups.Store(0)
			require.NoError(t, members().Err)
			assert.Zero(t, lookups.Load(), "and the describes use it")
		})
	}
}
