package kafkawakereceiver

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkawake/kafkawake/internal/kafkatest"
)

// startMember joins group as a consumer of topic that commits only when
// told to; with kip848 it is a KIP-848 member, which the classic
// DescribeGroups does not show.
func startMember(t *testing.T, c *kafkatest.Cluster, group, topic string, kip848 bool) *kgo.Client {
	t.Helper()
	opts := append([]kgo.Opt{}, c.ClientOpts...)
	opts = append(opts, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(),
		kgo.FetchMaxWait(100*time.Millisecond), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if kip848 {
		opts = append(opts, kgo.Balancers(kgo.RangeBalancer()), kgo.ServerSideBalancer())
	}
	member, err := kgo.NewClient(opts...)
	require.NoError(t, err)
	t.Cleanup(member.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	member.PollFetches(ctx) // joins the group
	return member
}

// commitAt makes member commit offset at on partition 0 of topic.
func commitAt(t *testing.T, member *kgo.Client, topic string, at int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var failed error
	member.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{topic: {0: {Epoch: -1, Offset: at}}},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			failed = err
			if err != nil {
				return
			}
			for _, rt := range resp.Topics {
				for _, rp := range rt.Partitions {
					failed = errors.Join(failed, kerr.ErrorForCode(rp.ErrorCode))
				}
			}
		})
	require.NoError(t, failed)
}

// A consumer group's life, as its binding status tells it, with a classic
// and with a KIP-848 member: waiting for a consumer, falling behind, stalled
// on a message, draining, idle, waiting again once its member left, and
// error once its topic is gone.
func TestStatusAndMembersFollowTheGroupsLife(t *testing.T) {
	for _, kip848 := range []bool{false, true} {
		name := map[bool]string{false: "classic", true: "KIP-848"}[kip848]
		t.Run(name, func(t *testing.T) {
			c := kafkatest.New(t, kfake.SeedTopics(1, "orders"))
			c.Produce("orders", 0, 20)
			const stallAfter = time.Minute
			s, clock := startScraperWith(t, func(cfg *Config) {
				cfg.Brokers = c.Kfake.ListenAddrs()
				cfg.Health.StallAfter = stallAfter
				cfg.Bindings = []BindingConfig{{Topic: "orders", ConsumerGroup: "g", Function: "f"}}
			})
			scrape := func() bindingPoints {
				clock.Advance(2 * time.Second)
				return scrapeOK(t, c, s)
			}

			pts := scrape()
			assert.Equal(t, "waiting", pts.status(t, "f"), "work and nobody to do it")
			assert.Equal(t, int64(0), pts.intValue(t, membersName, "f"), "a group that does not exist yet has no member")

			member := startMember(t, c, "g", "orders", kip848)
			require.Eventually(t, func() bool { return scrape().intValue(t, membersName, "f") == 1 }, 20*time.Second, 10*time.Millisecond)
			pts = scrape()
			assert.Equal(t, "falling_behind", pts.status(t, "f"), "a member that commits nothing does not drain the backlog")

			clock.Advance(stallAfter)
			pts = scrape()
			assert.Equal(t, "stalled", pts.status(t, "f"))
			assert.Equal(t, int64(1), pts.intValue(t, stalledName, "f"))

			commitAt(t, member, "orders", 10)
			pts = scrape()
			assert.Equal(t, "draining", pts.status(t, "f"), "10 consumed, nothing produced over the window")
			assert.Equal(t, int64(0), pts.intValue(t, stalledName, "f"), "the commit moved")

			commitAt(t, member, "orders", 20)
			assert.Equal(t, "idle", scrape().status(t, "f"))

			c.Produce("orders", 0, 5)
			member.Close()
			require.Eventually(t, func() bool { return scrape().intValue(t, membersName, "f") == 0 }, 20*time.Second, 10*time.Millisecond)
			assert.Equal(t, "waiting", scrape().status(t, "f"), "the member left: the wake is due")

			_, err := c.Adm.DeleteTopics(c.Ctx(), "orders")
			require.NoError(t, err)
			pts = scrapeFailing(t, c, s)
			assert.Equal(t, "error", pts.status(t, "f"))
			assert.False(t, pts.has(pendingName, "f"), "an error has no pending point, only its status")
		})
	}
}

// Retention deletes messages the group never read, twice: each loss is
// counted once, and logged with its partition and count.
func TestLostMessagesAcrossTwoDeleteRecords(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(2, "events"))
	c.Produce("events", 0, 100)
	c.Produce("events", 1, 100)
	c.Commit("g", "events", 0, 20)
	c.Commit("g", "events", 1, 100)
	s, clock := startScraperWith(t, func(cfg *Config) {
		cfg.Brokers = c.Kfake.ListenAddrs()
		cfg.Bindings = []BindingConfig{{Topic: "events", ConsumerGroup: "g", Function: "f"}}
	})
	assert.Equal(t, int64(0), scrapeOK(t, c, s).intValue(t, lostName, "f"))

	require.NoError(t, c.Kfake.DeleteRecords("events", 0, 50))
	clock.Advance(2 * time.Second)
	assert.Equal(t, int64(30), scrapeOK(t, c, s).intValue(t, lostName, "f"), "offsets 20-49 were never read")
	clock.Advance(2 * time.Second)
	assert.Equal(t, int64(30), scrapeOK(t, c, s).intValue(t, lostName, "f"), "counted once")

	require.NoError(t, c.Kfake.DeleteRecords("events", 0, 70))
	require.NoError(t, c.Kfake.DeleteRecords("events", 1, 100)) // read already: nothing lost
	clock.Advance(2 * time.Second)
	assert.Equal(t, int64(50), scrapeOK(t, c, s).intValue(t, lostName, "f"), "only the newly deleted")
}

// A member that stops heartbeating (its process hung, its network cut) is
// removed by the coordinator after its session timeout: the group has no
// member again, and its backlog is waiting.
func TestAMemberWhoseSessionExpiresLeavesTheGroup(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(1, "orders"))
	c.Produce("orders", 0, 5)
	s, clock := startScraperWith(t, func(cfg *Config) {
		cfg.Brokers = c.Kfake.ListenAddrs()
		cfg.Bindings = []BindingConfig{{Topic: "orders", ConsumerGroup: "g", Function: "f"}}
	})
	scrape := func() bindingPoints {
		clock.Advance(2 * time.Second)
		return scrapeOK(t, c, s)
	}
	opts := append([]kgo.Opt{}, c.ClientOpts...)
	member, err := kgo.NewClient(append(opts, kgo.ConsumerGroup("g"), kgo.ConsumeTopics("orders"), kgo.DisableAutoCommit(),
		kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(500*time.Millisecond))...)
	require.NoError(t, err)
	defer member.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	member.PollFetches(ctx)
	cancel()
	require.Eventually(t, func() bool { return scrape().intValue(t, membersName, "f") == 1 }, 20*time.Second, 10*time.Millisecond)

	// From now on the member's heartbeats and rejoins never get an answer.
	release := make(chan struct{})
	defer close(release)
	for _, key := range []kmsg.Key{kmsg.Heartbeat, kmsg.JoinGroup, kmsg.SyncGroup} {
		c.Kfake.ControlKey(int16(key), func(kmsg.Request) (kmsg.Response, error, bool) {
			c.Kfake.KeepControl()
			c.Kfake.SleepControl(func() { <-release })
			return nil, nil, false
		})
	}
	require.Eventually(t, func() bool { return scrape().intValue(t, membersName, "f") == 0 }, 20*time.Second, 50*time.Millisecond,
		"the coordinator expires the session")
	assert.Equal(t, "waiting", scrape().status(t, "f"))
}
