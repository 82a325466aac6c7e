package kafkawakereceiver

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/kafkawake/kafkawake/internal/kafkatest"
)

func TestRetentionAndOutOfRangeCommits(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(2, "events"))
	c.Produce("events", 0, 100)
	c.Produce("events", 1, 100)
	c.Commit("g", "events", 0, 60)  // below the log start once records are deleted
	c.Commit("g", "events", 1, 130) // above the high watermark (offset set by hand)
	require.NoError(t, c.Kfake.DeleteRecords("events", 0, 80))
	require.NoError(t, c.Kfake.DeleteRecords("events", 1, 90))

	s, _ := startScraper(t, c.Kfake.ListenAddrs(), OffsetResetEarliest,
		BindingConfig{Topic: "events", ConsumerGroup: "g", Function: "committed"},
		BindingConfig{Topic: "events", ConsumerGroup: "never", Function: "uncommitted"},
	)
	pts := scrapeOK(t, c, s)
	// Partition 0: only the 20 retained messages. Partition 1: its consumer
	// finds its offset out of range and resets to earliest, so the 10
	// retained messages, never 0 and never -30.
	assert.Equal(t, int64(20+10), pts.intValue(t, pendingName, "committed"))
	// No commit, earliest: what is still retained, 20 + 10.
	assert.Equal(t, int64(30), pts.intValue(t, pendingName, "uncommitted"))
}

func TestOffsetResetLatestBaseline(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(2, "events"))
	c.Produce("events", 0, 50)
	s, _ := startScraper(t, c.Kfake.ListenAddrs(), OffsetResetLatest,
		BindingConfig{Topic: "events", ConsumerGroup: "g", Function: "f"})

	assert.Equal(t, int64(0), scrapeOK(t, c, s).intValue(t, pendingName, "f"), "history is not pending under latest")
	c.Produce("events", 0, 3)
	c.Produce("events", 1, 4)
	assert.Equal(t, int64(7), scrapeOK(t, c, s).intValue(t, pendingName, "f"))
	c.Commit("g", "events", 0, 53)
	assert.Equal(t, int64(4), scrapeOK(t, c, s).intValue(t, pendingName, "f"))
}

func TestRewindAndAddedPartitions(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(1, "events"))
	c.Produce("events", 0, 100)
	c.Commit("g", "events", 0, 60)
	s, clock := startScraper(t, c.Kfake.ListenAddrs(), OffsetResetEarliest,
		BindingConfig{Topic: "events", ConsumerGroup: "g", Function: "f"})
	pts := scrapeOK(t, c, s)
	assert.Equal(t, int64(40), pts.intValue(t, pendingName, "f"))

	// An operator rewinds the group to replay: more pending, no consumption.
	c.Commit("g", "events", 0, 10)
	clock.Advance(2 * time.Second)
	pts = scrapeOK(t, c, s)
	assert.Equal(t, int64(90), pts.intValue(t, pendingName, "f"))
	assert.Equal(t, int64(0), pts.intValue(t, consumedName, "f"))
	assert.False(t, pts.has(lastActivityName, "f"))

	// Two partitions are added and receive messages.
	_, err := c.Adm.CreatePartitions(c.Ctx(), 2, "events")
	require.NoError(t, err)
	c.Produce("events", 1, 5)
	c.Produce("events", 2, 7)
	c.Commit("g", "events", 0, 15)
	clock.Advance(2 * time.Second)
	pts = scrapeOK(t, c, s)
	assert.Equal(t, int64(85+5+7), pts.intValue(t, pendingName, "f"))
	assert.Equal(t, int64(5), pts.intValue(t, consumedName, "f"))
	assert.Equal(t, float64(clock.Now().Unix()), pts[lastActivityName]["f"].DoubleValue())
}

func TestBindingsSharingTopicAndGroup(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(3, "shared"))
	for p := range int32(3) {
		c.Produce("shared", p, 10)
	}
	c.Commit("g1", "shared", 0, 10)
	s, _ := startScraper(t, c.Kfake.ListenAddrs(), OffsetResetEarliest,
		BindingConfig{Topic: "shared", ConsumerGroup: "g1", Function: "a"},
		BindingConfig{Topic: "shared", ConsumerGroup: "g1", Function: "b"},
		BindingConfig{Topic: "shared", ConsumerGroup: "g2", Function: "c"},
	)
	assert.Equal(t, []string{"shared"}, s.scope.topics)
	assert.Equal(t, []string{"g1", "g2"}, s.scope.groups)
	pts := scrapeOK(t, c, s)
	assert.Equal(t, int64(20), pts.intValue(t, pendingName, "a"))
	assert.Equal(t, int64(20), pts.intValue(t, pendingName, "b"))
	assert.Equal(t, int64(30), pts.intValue(t, pendingName, "c"))
}

func TestNewPartitionsAndTopicsAreCountedWithinTwoScrapes(t *testing.T) {
	const interval = 500 * time.Millisecond
	c := kafkatest.New(t, kfake.SeedTopics(1, "events"))
	c.Produce("events", 0, 2)
	s, _ := startScraperWith(t, func(cfg *Config) {
		cfg.Brokers = c.Kfake.ListenAddrs()
		cfg.CollectionInterval = interval
		cfg.Bindings = []BindingConfig{
			{Topic: "events", ConsumerGroup: "g", Function: "grown"},
			{Topic: "later", ConsumerGroup: "g", Function: "later"},
		}
	})
	pts, err := scrapeWithin(t, s, 10*time.Second)
	assert.ErrorContains(t, err, `topic "later" does not exist`)
	assert.Equal(t, int64(2), pts.intValue(t, pendingName, "grown"))

	_, err = c.Adm.CreatePartitions(c.Ctx(), 2, "events")
	require.NoError(t, err)
	require.NoError(t, c.Kfake.CreateTopic("later", 1, nil))
	c.Produce("events", 1, 3)
	c.Produce("events", 2, 4)
	c.Produce("later", 0, 6)

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
			c := kafkatest.New(t, kfake.SeedTopics(3, "orders"))
			group := "never-" + string(reset)
			if reset == OffsetResetEarliest {
				for p := range int32(3) {
					c.Produce("orders", p, 10)
				}
			}
			s, clock := startScraper(t, c.Kfake.ListenAddrs(), reset,
				BindingConfig{Topic: "orders", ConsumerGroup: group, Function: "f"})
			pts := scrapeOK(t, c, s)
			assert.Equal(t, int64(0), pts.intValue(t, consumedName, "f"))
			if reset == OffsetResetLatest {
				for p := range int32(3) {
					c.Produce("orders", p, 10)
				}
			}
			assert.Equal(t, int64(30), scrapeOK(t, c, s).intValue(t, pendingName, "f"))

			// The woken function reads the 30 messages and commits for the
			// first time on every partition.
			for p := range int32(3) {
				c.Commit(group, "orders", p, 10)
			}
			clock.Advance(2 * time.Second)
			pts = scrapeOK(t, c, s)
			assert.Equal(t, int64(0), pts.intValue(t, pendingName, "f"))
			assert.Equal(t, int64(30), pts.intValue(t, consumedName, "f"))
			assert.Equal(t, float64(clock.Now().Unix()), pts[lastActivityName]["f"].DoubleValue())
		})
	}
}

func TestScrapeCommittedAndNeverCommittedGroups(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(3, "orders"))
	for p := range int32(3) {
		c.Produce("orders", p, 10)
	}
	// "workers" committed partially; "sleepers" never committed (kfake
	// answers GROUP_ID_NOT_FOUND for it, Kafka would answer -1 offsets).
	c.Commit("workers", "orders", 0, 4)
	c.Commit("workers", "orders", 1, 10)

	s, clock := startScraper(t, c.Kfake.ListenAddrs(), OffsetResetEarliest,
		BindingConfig{Topic: "orders", ConsumerGroup: "workers", Function: "worker"},
		BindingConfig{Topic: "orders", ConsumerGroup: "sleepers", Function: "sleeper"},
	)

	md, err := s.scrape(c.Ctx())
	require.NoError(t, err)
	pts := pointsByFunction(t, md)
	assert.Equal(t, int64(6+0+10), pts.intValue(t, pendingName, "worker"))
	assert.Equal(t, int64(30), pts.intValue(t, pendingName, "sleeper"))
	assert.Equal(t, int64(0), pts.intValue(t, consumedName, "worker"))
	assert.False(t, pts.has(lastActivityName, "worker"), "the first observation is a baseline, never activity")

	attrs := pts[pendingName]["worker"].Attributes().AsRaw()
	assert.Equal(t, map[string]any{"topic": "orders", "group": "workers", "function": "worker"}, attrs)

	// The worker consumes 3 more on partition 0 and starts partition 2.
	c.Commit("workers", "orders", 0, 7)
	c.Commit("workers", "orders", 2, 2)
	clock.Advance(2 * time.Second)
	md, err = s.scrape(c.Ctx())
	require.NoError(t, err)
	pts = pointsByFunction(t, md)
	assert.Equal(t, int64(3+0+8), pts.intValue(t, pendingName, "worker"))
	assert.Equal(t, int64(3+2), pts.intValue(t, consumedName, "worker"), "a partition's first commit counts from its log start")
	assert.Equal(t, float64(clock.Now().Unix()), pts[lastActivityName]["worker"].DoubleValue())
	assert.Equal(t, pcommon.NewTimestampFromTime(clock.Now()), pts[pendingName]["worker"].Timestamp())
	assert.False(t, pts.has(lastActivityName, "sleeper"))
}

// A topic re-created under the same name leaves the group's commit beyond
// its end: the consumer will reset and read it all, so the function must
// be woken; the cause is logged once.
func TestACommitBeyondTheEndOfARecreatedTopicIsPendingAndLoggedOnce(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(1, "orders"))
	c.Produce("orders", 0, 55)
	c.Commit("g", "orders", 0, 200)
	core, logs := observer.New(zapcore.InfoLevel)
	s, clock := startScraperLogging(t, componenttest.NewNopHost(), zap.New(core), func(cfg *Config) {
		cfg.Brokers = c.Kfake.ListenAddrs()
		cfg.Bindings = []BindingConfig{{Topic: "orders", ConsumerGroup: "g", Function: "f"}}
	})
	for range 3 {
		assert.Equal(t, int64(55), scrapeOK(t, c, s).intValue(t, pendingName, "f"))
		clock.Advance(2 * time.Second)
	}
	beyond := logs.FilterMessageSnippet("beyond the end of these partitions")
	require.Equal(t, 1, beyond.Len())
	assert.Equal(t, "[0]", fmt.Sprint(beyond.All()[0].ContextMap()["partitions"]))

	// The consumer resets to earliest and commits what it read.
	c.Commit("g", "orders", 0, 40)
	pts := scrapeOK(t, c, s)
	assert.Equal(t, int64(15), pts.intValue(t, pendingName, "f"))
	assert.Equal(t, int64(40), pts.intValue(t, consumedName, "f"))
	assert.Equal(t, 1, logs.FilterMessageSnippet("within their partitions again").Len())
}
