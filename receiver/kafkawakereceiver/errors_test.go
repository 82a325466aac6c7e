package kafkawakereceiver

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/collector/scraper/scrapererror"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/kafkawake/kafkawake/internal/kafkatest"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/metadata"
)

func TestTopicDeletedWhileRunning(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(1, "doomed", "kept"))
	c.Produce("doomed", 0, 3)
	c.Produce("kept", 0, 4)
	s, _ := startScraper(t, c.Kfake.ListenAddrs(), OffsetResetEarliest,
		BindingConfig{Topic: "doomed", ConsumerGroup: "g", Function: "doomed"},
		BindingConfig{Topic: "kept", ConsumerGroup: "g", Function: "kept"})
	assert.Equal(t, int64(3), scrapeOK(t, c, s).intValue(t, pendingName, "doomed"))

	require.NoError(t, c.Kfake.DeleteTopic("doomed"))
	for range 2 { // the first scrape may still use the old leaders
		md, err := s.scrape(c.Ctx())
		require.Error(t, err)
		assert.True(t, scrapererror.IsPartialScrapeError(err))
		assert.ErrorContains(t, err, `topic "doomed"`)
		assert.ErrorContains(t, err, kerr.UnknownTopicOrPartition.Message)
		pts := pointsByFunction(t, md)
		assert.False(t, pts.has(pendingName, "doomed"))
		assert.Equal(t, int64(4), pts.intValue(t, pendingName, "kept"))
	}
}

// startOnCommittedGroup starts a scraper of one binding, f, whose group g
// has 6 messages pending on partition 0 of "events".
func startOnCommittedGroup(t *testing.T) (*kafkatest.Cluster, *kafkaScraper) {
	t.Helper()
	c := kafkatest.New(t, kfake.SeedTopics(2, "events"))
	c.Produce("events", 0, 10)
	c.Commit("g", "events", 0, 4)
	s, _ := startScraper(t, c.Kfake.ListenAddrs(), OffsetResetEarliest,
		BindingConfig{Topic: "events", ConsumerGroup: "g", Function: "f"})
	return c, s
}

func TestCoordinatorErrorsAreRetriedOrReported(t *testing.T) {
	c, s := startOnCommittedGroup(t)

	// A coordinator that is loading answers retriable errors: the client
	// retries and the values are right.
	c.Kfake.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetFetch}, Group: "g", Err: kerr.CoordinatorLoadInProgress, Count: 2})
	assert.Equal(t, int64(6), scrapeOK(t, c, s).intValue(t, pendingName, "f"))

	// A coordinator that keeps failing is an explicit error, never a 0.
	h := c.Kfake.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetFetch}, Group: "g", Err: kerr.UnknownServerError, Count: -1})
	md, err := s.scrape(c.Ctx())
	require.Error(t, err)
	assert.ErrorContains(t, err, `reading committed offsets of group "g"`)
	assert.False(t, pointsByFunction(t, md).has(pendingName, "f"))

	// Recovery: correct values on the next scrape.
	h.Remove()
	assert.Equal(t, int64(6), scrapeOK(t, c, s).intValue(t, pendingName, "f"))
}

// A coordinator that answers NOT_COORDINATOR (the group moved) is asked no
// more: the group is read again through the client in the same scrape, and
// its coordinator is found again for the next.
func TestAMovedCoordinatorIsFoundAgain(t *testing.T) {
	c, s := startOnCommittedGroup(t)
	assert.Equal(t, int64(6), scrapeOK(t, c, s).intValue(t, pendingName, "f"))

	findings := c.CountCoordinatorLookups("g")
	c.Kfake.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetFetch}, Group: "g", Err: kerr.NotCoordinator, Count: 1})
	assert.Equal(t, int64(6), scrapeOK(t, c, s).intValue(t, pendingName, "f"), "read again in the same scrape")
	assert.Equal(t, int64(6), scrapeOK(t, c, s).intValue(t, pendingName, "f"))
	assert.Positive(t, findings.Load(), "the coordinator was looked up again")
}

// A describe answered NOT_COORDINATOR (the group moved) is asked again in
// the same scrape, for each kind of consumer group. (kafkaread's
// TestTheNextDescribeFindsAMovedCoordinatorAgain checks that the moved
// coordinator is not asked again.)
func TestAMovedCoordinatorIsDescribedAgain(t *testing.T) {
	for _, kip848 := range []bool{false, true} {
		name, describe := "classic", kmsg.DescribeGroups
		if kip848 {
			name, describe = "KIP-848", kmsg.ConsumerGroupDescribe
		}
		t.Run(name, func(t *testing.T) {
			c := kafkatest.New(t, kfake.SeedTopics(1, "orders"))
			c.Produce("orders", 0, 5)
			s, _ := startScraper(t, c.Kfake.ListenAddrs(), OffsetResetEarliest,
				BindingConfig{Topic: "orders", ConsumerGroup: "g", Function: "f"})
			startMember(t, c, "g", "orders", kip848)
			require.Eventually(t, func() bool { return scrapeOK(t, c, s).intValue(t, membersName, "f") == 1 }, 20*time.Second, 10*time.Millisecond)

			c.Kfake.Fault(kfake.Fault{Keys: []kmsg.Key{describe}, Group: "g", Err: kerr.NotCoordinator, Count: 1})
			assert.Equal(t, int64(1), scrapeOK(t, c, s).intValue(t, membersName, "f"), "described again in the same scrape")
			assert.Equal(t, int64(1), scrapeOK(t, c, s).intValue(t, membersName, "f"))
		})
	}
}

func TestPartitionErrorIsReportedNotZero(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(2, "events"))
	c.Produce("events", 1, 10)
	s, _ := startScraper(t, c.Kfake.ListenAddrs(), OffsetResetEarliest,
		BindingConfig{Topic: "events", ConsumerGroup: "g", Function: "f"})
	c.Kfake.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.ListOffsets}, Topic: "events", Partitions: []int32{1}, Err: kerr.UnknownServerError, Count: -1})
	md, err := s.scrape(c.Ctx())
	require.Error(t, err)
	assert.ErrorContains(t, err, `partition 1 of topic "events" on broker`)
	assert.False(t, pointsByFunction(t, md).has(pendingName, "f"))
}

func TestLeaderMovesKeepValuesRight(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(6, "events"))
	for p := range int32(6) {
		c.Produce("events", p, int(p)+1)
	}
	c.Commit("g", "events", 5, 6)
	s, _ := startScraper(t, c.Kfake.ListenAddrs(), OffsetResetEarliest,
		BindingConfig{Topic: "events", ConsumerGroup: "g", Function: "f"})
	assert.Equal(t, int64(15), scrapeOK(t, c, s).intValue(t, pendingName, "f"))
	for range 3 {
		c.Kfake.ShufflePartitionLeaders()
		c.Kfake.RehashCoordinators()
		// Until the client learns the new leaders a scrape may fail, but it
		// never reports a wrong value, and it recovers within a few scrapes.
		recovered := false
		for attempt := 0; attempt < 50 && !recovered; attempt++ {
			md, err := s.scrape(c.Ctx())
			pts := pointsByFunction(t, md)
			if err != nil {
				assert.False(t, pts.has(pendingName, "f"), "a failed read must not be reported")
				time.Sleep(20 * time.Millisecond) // let the metadata refresh land
				continue
			}
			assert.Equal(t, int64(15), pts.intValue(t, pendingName, "f"))
			recovered = true
		}
		require.True(t, recovered, "values did not recover after the leaders moved")
	}
}

func TestAPartitionWhoseLeaderMovedIsAskedAgainInTheSameScrape(t *testing.T) {
	for _, retries := range []int{20, 0} {
		t.Run(fmt.Sprintf("metadata.retry.max=%d", retries), func(t *testing.T) {
			c := kafkatest.New(t, kfake.SeedTopics(3, "events"))
			for p := range int32(3) {
				c.Produce("events", p, int(p)+1)
			}
			s, _ := startScraperWith(t, func(cfg *Config) {
				cfg.Brokers = c.Kfake.ListenAddrs()
				cfg.OffsetReset = OffsetResetEarliest
				cfg.Bindings = []BindingConfig{{Topic: "events", ConsumerGroup: "g", Function: "f"}}
				cfg.Metadata.Retry.Max = retries
			})
			assert.Equal(t, int64(6), scrapeOK(t, c, s).intValue(t, pendingName, "f"))

			// Between the scrape's metadata and its offsets, partition 1
			// changes leader: the broker the metadata named answers once
			// that it no longer leads it.
			c.Produce("events", 1, 4)
			requests := countRequests(c.Kfake)
			moved := c.Kfake.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.ListOffsets}, Topic: "events", Partitions: []int32{1}, Err: kerr.NotLeaderForPartition, Count: 1})
			if retries == 0 {
				md, err := s.scrape(c.Ctx())
				assert.ErrorContains(t, err, `partition 1 of topic "events"`)
				assert.ErrorContains(t, err, kerr.NotLeaderForPartition.Message)
				assert.False(t, pointsByFunction(t, md).has(pendingName, "f"), "without retries the moved partition waits for the next scrape")
				assert.Equal(t, int64(10), scrapeOK(t, c, s).intValue(t, pendingName, "f"))
				return
			}
			assert.Equal(t, int64(10), scrapeOK(t, c, s).intValue(t, pendingName, "f"), "asked again at its leader, not reported dark")
			assert.Equal(t, 1, moved.Hits(), "the leader answered once that it had moved")
			byAPI, _ := requests.snapshot()
			assert.Equal(t, int64(2), byAPI["Metadata"], "the scrape's metadata, then the moved partition's topic again")
		})
	}
}

func TestStalledLeaderIsAnErrorNotASmallerValue(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(3, "orders"), kfake.SeedTopics(1, "calm"))
	placePartitions(t, c.Kfake, "orders", 0, 1, 2)
	placePartitions(t, c.Kfake, "calm", 1)
	for p := range int32(3) {
		c.Produce("orders", p, 10)
	}
	c.Produce("calm", 0, 4)
	// The groups' coordinators are not the stalled broker, which would hold
	// their answers too.
	s, _ := startScraper(t, c.Kfake.ListenAddrs(), OffsetResetEarliest,
		BindingConfig{Topic: "orders", ConsumerGroup: groupCoordinatedBy(t, c.Kfake, "orders", 0), Function: "orders"},
		BindingConfig{Topic: "calm", ConsumerGroup: groupCoordinatedBy(t, c.Kfake, "calm", 1), Function: "calm"})
	assert.Equal(t, int64(30), scrapeOK(t, c, s).intValue(t, pendingName, "orders"))

	stalled := stallRequests(t, c.Kfake, kmsg.ListOffsets, 2, nil)
	pts, err := scrapeWithin(t, s, stallTimeout)
	require.Error(t, err)
	assert.True(t, scrapererror.IsPartialScrapeError(err))
	assert.ErrorContains(t, err, `binding topic "orders"`)
	assert.ErrorContains(t, err, `partition 2 of topic "orders" on broker 2 (`+c.Kfake.ListenAddrs()[2]+`)`)
	assert.ErrorContains(t, err, context.DeadlineExceeded.Error())
	assert.False(t, pts.has(pendingName, "orders"), "two partitions of three must not be read as pending 20")
	assert.Equal(t, int64(4), pts.intValue(t, pendingName, "calm"), "a binding the stalled broker does not serve is reported")
	assert.Positive(t, stalled.stalled.Load())

	stalled.end()
	assert.Equal(t, int64(30), scrapeOK(t, c, s).intValue(t, pendingName, "orders"))
}

func TestLeaderlessPartitionIsAnErrorAndStateSurvives(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(3, "orders"))
	for p := range int32(3) {
		c.Produce("orders", p, 10)
	}
	s, clock := startScraper(t, c.Kfake.ListenAddrs(), OffsetResetLatest,
		BindingConfig{Topic: "orders", ConsumerGroup: "g", Function: "f"})
	pts := scrapeOK(t, c, s)
	assert.Equal(t, int64(0), pts.intValue(t, pendingName, "f"), "under latest the history is the baseline")

	// While partition 1 has no leader, 5 messages arrived on it before, and
	// the group reads 3 new ones on partition 0 and commits for the first
	// time.
	c.Produce("orders", 1, 5)
	c.Produce("orders", 0, 3)
	c.Commit("g", "orders", 0, 13)
	leaderless := c.Kfake.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Metadata}, Topic: "orders", Partitions: []int32{1}, Err: kerr.LeaderNotAvailable, Count: -1})
	clock.Advance(2 * time.Second)
	md, err := s.scrape(c.Ctx())
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

func TestBrokerStallingMetadataIsLeftForAnother(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(2, "orders"))
	placePartitions(t, c.Kfake, "orders", 1, 2)
	c.Produce("orders", 0, 3)
	c.Produce("orders", 1, 4)
	s, _ := startScraper(t, c.Kfake.ListenAddrs(), OffsetResetEarliest,
		BindingConfig{Topic: "orders", ConsumerGroup: groupCoordinatedBy(t, c.Kfake, "g", 1), Function: "f"})
	scrapeOK(t, c, s)

	// The client picks a random broker for each Metadata request, so a
	// scrape misses the stalled one with probability 2/3: 40 scrapes all miss
	// it once in ten million runs. The loop ends after two stalled scrapes.
	stalled := stallRequests(t, c.Kfake, kmsg.Metadata, 0, nil)
	for scrape := 0; scrape < 40 && stalled.stalled.Load() < 2; scrape++ {
		pts, err := scrapeWithin(t, s, stallTimeout)
		require.NoError(t, err, "scrape %d", scrape)
		assert.Equal(t, int64(7), pts.intValue(t, pendingName, "f"), "scrape %d", scrape)
	}
	assert.Positive(t, stalled.stalled.Load(), "no Metadata request reached the stalled broker")
}

func TestScrapeMissingTopicIsAnErrorNotZero(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(1, "orders"))
	c.Produce("orders", 0, 5)
	s, _ := startScraper(t, c.Kfake.ListenAddrs(), OffsetResetEarliest,
		BindingConfig{Topic: "orders", ConsumerGroup: "g", Function: "present"},
		BindingConfig{Topic: "no-such-topic", ConsumerGroup: "g", Function: "absent"},
	)

	md, err := s.scrape(c.Ctx())
	require.Error(t, err)
	assert.True(t, scrapererror.IsPartialScrapeError(err))
	assert.ErrorContains(t, err, `binding topic "no-such-topic", consumer_group "g", function "absent"`)
	assert.ErrorContains(t, err, `topic "no-such-topic" does not exist`)

	pts := pointsByFunction(t, md)
	assert.Equal(t, int64(5), pts.intValue(t, pendingName, "present"))
	assert.False(t, pts.has(pendingName, "absent"), "an unreadable binding must not be reported as 0 pending")

	topics, err := c.Adm.ListTopics(c.Ctx())
	require.NoError(t, err)
	assert.False(t, topics.Has("no-such-topic"), "the receiver must never create topics")
}

func TestReceiverLogsAPersistentErrorOnce(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(1, "orders"))
	cfg := createDefaultConfig().(*Config)
	cfg.Brokers = c.Kfake.ListenAddrs()
	cfg.CollectionInterval = 20 * time.Millisecond
	cfg.Bindings = []BindingConfig{{Topic: "missing", ConsumerGroup: "g", Function: "f"}}
	require.NoError(t, cfg.Validate())

	core, logs := observer.New(zapcore.InfoLevel)
	set := receivertest.NewNopSettings(metadata.Type)
	set.Logger = zap.New(core)
	sink := &consumertest.MetricsSink{}
	rcv, err := NewFactory().CreateMetrics(context.Background(), set, cfg, sink)
	require.NoError(t, err)
	require.NoError(t, rcv.Start(context.Background(), componenttest.NewNopHost()))
	require.Eventually(t, func() bool { return len(sink.AllMetrics()) >= 10 }, 30*time.Second, 10*time.Millisecond)
	require.NoError(t, rcv.Shutdown(context.Background()))

	assert.Equal(t, 1, logs.FilterMessage("Error scraping metrics").Len(), "the same cause is logged once, not every scrape")
	assert.Equal(t, 1, logs.FilterMessageSnippet("Cannot read the binding's offsets").Len())
}
