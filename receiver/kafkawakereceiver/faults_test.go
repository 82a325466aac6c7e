package kafkawakereceiver

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.opentelemetry.io/collector/scraper/scrapererror"
)

// stallTimeout is the scrape deadline of the tests that stall a broker: long
// enough for the healthy requests on a loaded machine, short enough to keep
// the tests quick.
const stallTimeout = 3 * time.Second

// stall holds, until released, the requests of one key that one node
// receives and that match, through kfake's SleepControl.
type stall struct {
	release chan struct{}
	stalled atomic.Int64
}

func stallRequests(t *testing.T, c *kfake.Cluster, key kmsg.Key, node int32, match func(kmsg.Request) bool) *stall {
	t.Helper()
	s := &stall{release: make(chan struct{})}
	c.ControlKey(int16(key), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		select {
		case <-s.release:
			return nil, nil, false
		default:
		}
		if c.CurrentNode() == node && (match == nil || match(req)) {
			s.stalled.Add(1)
			c.SleepControl(func() { <-s.release })
		}
		return nil, nil, false
	})
	t.Cleanup(s.end)
	return s
}

func (s *stall) end() {
	select {
	case <-s.release:
	default:
		close(s.release)
	}
}

// groupCoordinatedBy returns a group name whose coordinator is node, and
// that none of avoid uses.
func groupCoordinatedBy(t *testing.T, c *kfake.Cluster, prefix string, node int32) string {
	t.Helper()
	for i := range 1000 {
		name := fmt.Sprintf("%s-%d", prefix, i)
		if c.CoordinatorFor(name) == node {
			return name
		}
	}
	t.Fatalf("no group named %s-N is coordinated by node %d", prefix, node)
	return ""
}

// placePartitions moves partition p of topic to nodes[p].
func placePartitions(t *testing.T, c *kfake.Cluster, topic string, nodes ...int32) {
	t.Helper()
	for p, node := range nodes {
		require.NoError(t, c.MoveTopicPartition(topic, int32(p), node))
	}
}

// scrapeWithin scrapes with a deadline of d.
func scrapeWithin(t *testing.T, s *kafkaScraper, d time.Duration) (bindingPoints, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	md, err := s.scrape(ctx)
	return pointsByFunction(t, md), err
}

func TestStalledLeaderIsAnErrorNotASmallerValue(t *testing.T) {
	c := newTestCluster(t, kfake.SeedTopics(3, "orders"), kfake.SeedTopics(1, "calm"))
	placePartitions(t, c.cluster, "orders", 0, 1, 2)
	placePartitions(t, c.cluster, "calm", 1)
	for p := range int32(3) {
		c.produce("orders", p, 10)
	}
	c.produce("calm", 0, 4)
	// The groups' coordinators are not the stalled broker, which would hold
	// their answers too.
	s, _ := startScraper(t, c.cluster.ListenAddrs(), OffsetResetEarliest,
		BindingConfig{Topic: "orders", ConsumerGroup: groupCoordinatedBy(t, c.cluster, "orders", 0), Function: "orders"},
		BindingConfig{Topic: "calm", ConsumerGroup: groupCoordinatedBy(t, c.cluster, "calm", 1), Function: "calm"})
	assert.Equal(t, int64(30), scrapeOK(t, c, s).intValue(t, pendingName, "orders"))

	stalled := stallRequests(t, c.cluster, kmsg.ListOffsets, 2, nil)
	pts, err := scrapeWithin(t, s, stallTimeout)
	require.Error(t, err)
	assert.True(t, scrapererror.IsPartialScrapeError(err))
	assert.ErrorContains(t, err, `binding topic "orders"`)
	assert.ErrorContains(t, err, `partition 2 of topic "orders" on broker 2 (`+c.cluster.ListenAddrs()[2]+`)`)
	assert.ErrorContains(t, err, context.DeadlineExceeded.Error())
	assert.False(t, pts.has(pendingName, "orders"), "two partitions of three must not be read as pending 20")
	assert.Equal(t, int64(4), pts.intValue(t, pendingName, "calm"), "a binding the stalled broker does not serve is reported")
	assert.Positive(t, stalled.stalled.Load())

	stalled.end()
	assert.Equal(t, int64(30), scrapeOK(t, c, s).intValue(t, pendingName, "orders"))
}

func TestLeaderlessPartitionIsAnErrorAndStateSurvives(t *testing.T) {
	c := newTestCluster(t, kfake.SeedTopics(3, "orders"))
	for p := range int32(3) {
		c.produce("orders", p, 10)
	}
	s, clock := startScraper(t, c.cluster.ListenAddrs(), OffsetResetLatest,
		BindingConfig{Topic: "orders", ConsumerGroup: "g", Function: "f"})
	pts := scrapeOK(t, c, s)
	assert.Equal(t, int64(0), pts.intValue(t, pendingName, "f"), "under latest the history is the baseline")

	// While partition 1 has no leader, 5 messages arrived on it before, and
	// the group reads 3 new ones on partition 0 and commits for the first
	// time.
	c.produce("orders", 1, 5)
	c.produce("orders", 0, 3)
	c.commit("g", "orders", 0, 13)
	leaderless := c.cluster.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Metadata}, Topic: "orders", Partitions: []int32{1}, Err: kerr.LeaderNotAvailable, Count: -1})
	clock.Advance(2 * time.Second)
	md, err := s.scrape(c.ctx())
	require.Error(t, err)
	assert.ErrorContains(t, err, `binding topic "orders", consumer_group "g", function "f": partition 1 of topic "orders" has no usable leader`)
	assert.ErrorContains(t, err, kerr.LeaderNotAvailable.Message)
	pts = pointsByFunction(t, md)
	assert.False(t, pts.has(pendingName, "f"), "two partitions of three must not be read as a value")
	assert.False(t, pts.has(consumedName, "f"))

	// The leader is back: its baseline and the commit across the gap count.
	leaderless.Remove()
	clock.Advance(2 * time.Second)
	pts = scrapeOK(t, c, s)
	assert.Equal(t, int64(5), pts.intValue(t, pendingName, "f"), "the baseline of partition 1 survived the gap")
	assert.Equal(t, int64(3), pts.intValue(t, consumedName, "f"), "the first commit after the gap counts from the baseline")
	assert.Equal(t, float64(clock.Now().Unix()), pts[lastActivityName]["f"].DoubleValue())
}

func TestSlowCoordinatorDelaysOnlyItsGroups(t *testing.T) {
	c := newTestCluster(t, kfake.SeedTopics(2, "fast-orders", "slow-orders"))
	const slowNode, fastNode = 0, 1
	// The fast binding's partitions and group live away from the slow
	// coordinator; the slow binding's partitions do not matter.
	placePartitions(t, c.cluster, "fast-orders", fastNode, 2)
	fastGroup := groupCoordinatedBy(t, c.cluster, "fast", fastNode)
	slowGroup := groupCoordinatedBy(t, c.cluster, "slow", slowNode)
	c.produce("fast-orders", 0, 7)
	c.produce("slow-orders", 1, 9)
	c.commit(fastGroup, "fast-orders", 0, 2)
	c.commit(slowGroup, "slow-orders", 1, 1)
	s, _ := startScraper(t, c.cluster.ListenAddrs(), OffsetResetEarliest,
		BindingConfig{Topic: "fast-orders", ConsumerGroup: fastGroup, Function: "fast"},
		BindingConfig{Topic: "slow-orders", ConsumerGroup: slowGroup, Function: "slow"})
	pts := scrapeOK(t, c, s)
	assert.Equal(t, int64(8), pts.intValue(t, pendingName, "slow"))

	stalled := stallRequests(t, c.cluster, kmsg.OffsetFetch, slowNode, func(req kmsg.Request) bool {
		return slices.ContainsFunc(req.(*kmsg.OffsetFetchRequest).Groups, func(g kmsg.OffsetFetchRequestGroup) bool { return g.Group == slowGroup })
	})
	pts, err := scrapeWithin(t, s, stallTimeout)
	require.Error(t, err)
	assert.ErrorContains(t, err, fmt.Sprintf(`reading committed offsets of group %q from coordinator broker %d (%s)`, slowGroup, slowNode, c.cluster.ListenAddrs()[slowNode]))
	assert.False(t, pts.has(pendingName, "slow"))
	assert.Equal(t, int64(5), pts.intValue(t, pendingName, "fast"), "the other group is reported in the same scrape")
	assert.Positive(t, stalled.stalled.Load())

	stalled.end()
	assert.Equal(t, int64(8), scrapeOK(t, c, s).intValue(t, pendingName, "slow"))
}

func TestBrokerStallingMetadataIsLeftForAnother(t *testing.T) {
	c := newTestCluster(t, kfake.SeedTopics(2, "orders"))
	placePartitions(t, c.cluster, "orders", 1, 2)
	c.produce("orders", 0, 3)
	c.produce("orders", 1, 4)
	s, _ := startScraper(t, c.cluster.ListenAddrs(), OffsetResetEarliest,
		BindingConfig{Topic: "orders", ConsumerGroup: groupCoordinatedBy(t, c.cluster, "g", 1), Function: "f"})
	scrapeOK(t, c, s)

	// The client picks a random broker for each Metadata request, so a
	// scrape misses the stalled one with probability 2/3: 40 scrapes all miss
	// it once in ten million runs. The loop ends after two stalled scrapes.
	stalled := stallRequests(t, c.cluster, kmsg.Metadata, 0, nil)
	for scrape := 0; scrape < 40 && stalled.stalled.Load() < 2; scrape++ {
		pts, err := scrapeWithin(t, s, stallTimeout)
		require.NoError(t, err, "scrape %d", scrape)
		assert.Equal(t, int64(7), pts.intValue(t, pendingName, "f"), "scrape %d", scrape)
	}
	assert.Positive(t, stalled.stalled.Load(), "no Metadata request reached the stalled broker")
}

func TestResidueCheckThatFailedIsRetried(t *testing.T) {
	c := newTestCluster(t, kfake.SeedTopics(1, "payments"))
	transactionalTopic(t, c, "payments", "payers")
	s, _ := startScraperWith(t, func(cfg *Config) {
		cfg.Brokers = c.cluster.ListenAddrs()
		cfg.IsolationLevel = IsolationReadCommitted
		cfg.Bindings = []BindingConfig{{Topic: "payments", ConsumerGroup: "payers", Function: "f"}}
	})
	failed := c.cluster.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Topic: "payments", Err: kerr.NotLeaderForPartition})
	assert.Equal(t, int64(6), scrapeOK(t, c, s).intValue(t, pendingName, "f"), "not proven empty yet")
	assert.Equal(t, 1, failed.Hits(), "the check was made and failed")
	assert.Equal(t, int64(0), scrapeOK(t, c, s).intValue(t, pendingName, "f"), "the failed check is made again and proves the range empty")
}

func TestNewPartitionsAndTopicsAreCountedWithinTwoScrapes(t *testing.T) {
	const interval = 500 * time.Millisecond
	c := newTestCluster(t, kfake.SeedTopics(1, "events"))
	c.produce("events", 0, 2)
	s, _ := startScraperWith(t, func(cfg *Config) {
		cfg.Brokers = c.cluster.ListenAddrs()
		cfg.CollectionInterval = interval
		cfg.Bindings = []BindingConfig{
			{Topic: "events", ConsumerGroup: "g", Function: "grown"},
			{Topic: "later", ConsumerGroup: "g", Function: "later"},
		}
	})
	pts, err := scrapeWithin(t, s, 10*time.Second)
	assert.ErrorContains(t, err, `topic "later" does not exist`)
	assert.Equal(t, int64(2), pts.intValue(t, pendingName, "grown"))

	_, err = c.adm.CreatePartitions(c.ctx(), 2, "events")
	require.NoError(t, err)
	require.NoError(t, c.cluster.CreateTopic("later", 1, nil))
	c.produce("events", 1, 3)
	c.produce("events", 2, 4)
	c.produce("later", 0, 6)

	// Scrapes a collection interval apart; the second one after the change
	// must count everything.
	for range 2 {
		time.Sleep(interval)
		pts, err = scrapeWithin(t, s, 10*time.Second)
	}
	require.NoError(t, err, "the second scrape after the change")
	assert.Equal(t, int64(2+3+4), pts.intValue(t, pendingName, "grown"))
	assert.Equal(t, int64(6), pts.intValue(t, pendingName, "later"))
}

func TestFirstCommitsOnNeverCommittedPartitionsAreConsumption(t *testing.T) {
	for _, reset := range []OffsetReset{OffsetResetEarliest, OffsetResetLatest} {
		t.Run(string(reset), func(t *testing.T) {
			c := newTestCluster(t, kfake.SeedTopics(3, "orders"))
			group := "never-" + string(reset)
			if reset == OffsetResetEarliest {
				for p := range int32(3) {
					c.produce("orders", p, 10)
				}
			}
			s, clock := startScraper(t, c.cluster.ListenAddrs(), reset,
				BindingConfig{Topic: "orders", ConsumerGroup: group, Function: "f"})
			pts := scrapeOK(t, c, s)
			assert.Equal(t, int64(0), pts.intValue(t, consumedName, "f"))
			if reset == OffsetResetLatest {
				for p := range int32(3) {
					c.produce("orders", p, 10)
				}
			}
			assert.Equal(t, int64(30), scrapeOK(t, c, s).intValue(t, pendingName, "f"))

			// The woken function reads the 30 messages and commits for the
			// first time on every partition.
			for p := range int32(3) {
				c.commit(group, "orders", p, 10)
			}
			clock.Advance(2 * time.Second)
			pts = scrapeOK(t, c, s)
			assert.Equal(t, int64(0), pts.intValue(t, pendingName, "f"))
			assert.Equal(t, int64(30), pts.intValue(t, consumedName, "f"))
			assert.Equal(t, float64(clock.Now().Unix()), pts[lastActivityName]["f"].DoubleValue())
		})
	}
}
