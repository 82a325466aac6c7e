package kafkawakereceiver

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkawake/kafkawake/internal/kafkatest"
	schema "github.com/kafkawake/kafkawake/internal/metadata"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/scaling"
)

var (
	producedName          = schema.MetricsInfo.SlimfaaskafkaProducedMessages.Name
	partitionsName        = schema.MetricsInfo.SlimfaaskafkaPartitions.Name
	partitionsPendingName = schema.MetricsInfo.SlimfaaskafkaPartitionsPending.Name
	desiredReplicasName   = schema.MetricsInfo.SlimfaaskafkaDesiredReplicas.Name
	drainTimeName         = schema.MetricsInfo.SlimfaaskafkaDrainTime.Name
)

// A steady producer writes 30 messages every 2 s to partition 0 and a
// consumer commits 50 more every 2 s: a backlog of 400 drains at 10
// messages a second.
func TestScalingSignalsFollowASteadyProducerAndConsumer(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(3, "orders"))
	c.Produce("orders", 0, 500)
	c.Commit("g", "orders", 0, 100)
	c.Produce("orders", 1, 2) // never committed: 2 pending under earliest
	s, clock := startScraperWith(t, func(cfg *Config) {
		cfg.Brokers = c.Kfake.ListenAddrs()
		cfg.Scaling.TargetPendingPerReplica = ptr[int64](100)
		cfg.Scaling.RateWindow = 10 * time.Second
		cfg.Bindings = []BindingConfig{
			{Topic: "orders", ConsumerGroup: "g", Function: "capped"},
			{Topic: "orders", ConsumerGroup: "g", Function: "uncapped", Scaling: &ScalingOverride{Cap: ptr(scaling.CapNone)}},
		}
	})

	pts := scrapeOK(t, c, s)
	assert.Equal(t, int64(0), pts.intValue(t, producedName, "capped"), "the first observation is a baseline")
	assert.Equal(t, int64(3), pts.intValue(t, partitionsName, "capped"))
	assert.Equal(t, int64(2), pts.intValue(t, partitionsPendingName, "capped"))
	assert.Equal(t, int64(402), pts.intValue(t, pendingName, "capped"))
	assert.Equal(t, int64(3), pts.intValue(t, desiredReplicasName, "capped"), "⌈402/100⌉ = 5, capped at the topic's 3 partitions")
	assert.Equal(t, int64(5), pts.intValue(t, desiredReplicasName, "uncapped"))
	assert.False(t, pts.has(drainTimeName, "capped"), "no rate before two observations")

	committed := int64(100)
	for step := 1; step <= 8; step++ {
		c.Produce("orders", 0, 30)
		committed += 50
		c.Commit("g", "orders", 0, committed)
		clock.Advance(2 * time.Second)
		pts = scrapeOK(t, c, s)
		pending := int64(402 - 20*step)
		require.Equal(t, pending, pts.intValue(t, pendingName, "capped"), "step %d", step)
		assert.Equal(t, int64(30*step), pts.intValue(t, producedName, "capped"), "step %d", step)
		// Net 20 consumed every 2 s, over however much of the window the
		// history spans: exactly 10 a second at every step.
		assert.InDelta(t, float64(pending)/10, pts[drainTimeName]["capped"].DoubleValue(), 1e-6, "step %d", step)
	}
}

func TestDrainTimeIsInfiniteForASleepingFunctionAndZeroWhenIdle(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(1, "orders", "idle"))
	c.Produce("orders", 0, 5)
	s, clock := startScraperWith(t, func(cfg *Config) {
		cfg.Brokers = c.Kfake.ListenAddrs()
		cfg.Bindings = []BindingConfig{
			{Topic: "orders", ConsumerGroup: "sleeping", Function: "sleeping"},
			{Topic: "idle", ConsumerGroup: "idle", Function: "idle"},
		}
	})
	pts := scrapeOK(t, c, s)
	assert.Equal(t, 0.0, pts[drainTimeName]["idle"].DoubleValue(), "nothing pending drains in no time, rates or not")
	assert.False(t, pts.has(desiredReplicasName, "sleeping"), "no target_pending_per_replica: no desired replicas")

	c.Produce("orders", 0, 3)
	clock.Advance(2 * time.Second)
	pts = scrapeOK(t, c, s)
	assert.True(t, math.IsInf(pts[drainTimeName]["sleeping"].DoubleValue(), 1), "messages arrive and nobody reads them")
	assert.Equal(t, int64(3), pts.intValue(t, producedName, "sleeping"))
}

// The bindings of a topic share one count of its messages: a binding whose
// group could not be read for a scrape still counts what was produced
// meanwhile, and a binding whose group is read first after the others
// counts from then.
func TestBindingsOfATopicCountItsMessagesFromTheirFirstRead(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(2, "events"))
	c.Produce("events", 0, 10)
	s, clock := startScraper(t, c.Kfake.ListenAddrs(), OffsetResetEarliest,
		BindingConfig{Topic: "events", ConsumerGroup: "steady", Function: "steady"},
		BindingConfig{Topic: "events", ConsumerGroup: "flaky", Function: "flaky"},
		BindingConfig{Topic: "events", ConsumerGroup: "late", Function: "late"})
	late := c.Kfake.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetFetch}, Group: "late", Err: kerr.UnknownServerError, Count: -1})
	pts := scrapeFailing(t, c, s)
	assert.Equal(t, int64(0), pts.intValue(t, producedName, "steady"))
	assert.Equal(t, int64(0), pts.intValue(t, producedName, "flaky"))

	// flaky's group cannot be read while 5 messages arrive.
	flaky := c.Kfake.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetFetch}, Group: "flaky", Err: kerr.UnknownServerError, Count: -1})
	c.Produce("events", 1, 5)
	clock.Advance(2 * time.Second)
	pts = scrapeFailing(t, c, s)
	assert.Equal(t, int64(5), pts.intValue(t, producedName, "steady"))
	assert.False(t, pts.has(producedName, "flaky"))

	flaky.Remove()
	late.Remove()
	c.Produce("events", 0, 3)
	clock.Advance(2 * time.Second)
	pts = scrapeOK(t, c, s)
	assert.Equal(t, int64(8), pts.intValue(t, producedName, "steady"))
	assert.Equal(t, int64(8), pts.intValue(t, producedName, "flaky"), "the messages produced while its group was unreadable count")
	assert.Equal(t, int64(0), pts.intValue(t, producedName, "late"), "its first read is its baseline")

	c.Produce("events", 1, 2)
	clock.Advance(2 * time.Second)
	pts = scrapeOK(t, c, s)
	assert.Equal(t, int64(10), pts.intValue(t, producedName, "steady"))
	assert.Equal(t, int64(2), pts.intValue(t, producedName, "late"))
}

func TestProducedMessagesIgnoreDeletedRecordsAndCountAddedPartitions(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(1, "events"))
	c.Produce("events", 0, 100)
	s, clock := startScraper(t, c.Kfake.ListenAddrs(), OffsetResetEarliest,
		BindingConfig{Topic: "events", ConsumerGroup: "g", Function: "f"})
	assert.Equal(t, int64(0), scrapeOK(t, c, s).intValue(t, producedName, "f"))

	// Retention deletes 60 records: nothing was produced.
	require.NoError(t, c.Kfake.DeleteRecords("events", 0, 60))
	clock.Advance(2 * time.Second)
	assert.Equal(t, int64(0), scrapeOK(t, c, s).intValue(t, producedName, "f"))

	// Two partitions are added and receive messages; the old one grows.
	_, err := c.Adm.CreatePartitions(c.Ctx(), 2, "events")
	require.NoError(t, err)
	c.Produce("events", 1, 5)
	c.Produce("events", 2, 7)
	c.Produce("events", 0, 4)
	clock.Advance(2 * time.Second)
	pts := scrapeOK(t, c, s)
	assert.Equal(t, int64(4+5+7), pts.intValue(t, producedName, "f"))
	assert.Equal(t, int64(3), pts.intValue(t, partitionsName, "f"))
}
