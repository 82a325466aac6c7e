package kafkawakereceiver

import (
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/kafka/configkafka"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/kafkawake/kafkawake/internal/kafkatest"
)

func TestPendingAgeEstimate(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(2, "orders"))
	c.Produce("orders", 0, 10)
	c.Commit("workers", "orders", 0, 5)
	s, clock := startScraper(t, c.Kfake.ListenAddrs(), OffsetResetEarliest,
		BindingConfig{Topic: "orders", ConsumerGroup: "workers", Function: "worker"},
		BindingConfig{Topic: "orders", ConsumerGroup: "sleepers", Function: "sleeper"},
		BindingConfig{Topic: "missing", ConsumerGroup: "workers", Function: "lost"},
	)
	scrape := func() bindingPoints {
		t.Helper()
		md, err := s.scrape(c.Ctx())
		require.Error(t, err, "the missing topic is reported")
		return pointsByFunction(t, md)
	}

	pts := scrape()
	assert.Equal(t, 0.0, pts.seconds(t, "worker"), "messages older than the first sight are dated at it: a lower bound")
	assert.Equal(t, 0.0, pts.seconds(t, "sleeper"))
	assert.False(t, pts.has(pendingAgeName, "lost"), "no pending point, no age")

	clock.Advance(10 * time.Second)
	c.Produce("orders", 0, 10)
	pts = scrape()
	assert.InDelta(t, 10, pts.seconds(t, "worker"), 1e-6, "the lower bound grows with time")
	assert.InDelta(t, 10, pts.seconds(t, "sleeper"), 1e-6)

	// The workers reach the messages produced between the two scrapes:
	// offset 15 is the 6th of the 10, dated 6 s after the first scrape.
	c.Commit("workers", "orders", 0, 15)
	c.Commit("sleepers", "orders", 0, 20)
	clock.Advance(2 * time.Second)
	pts = scrape()
	assert.InDelta(t, 6, pts.seconds(t, "worker"), 1e-6)
	assert.Equal(t, 0.0, pts.seconds(t, "sleeper"), "nothing pending is 0")
}

func TestPendingAgeNone(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(1, "orders"))
	c.Produce("orders", 0, 10)
	s, _ := startScraperWith(t, func(cfg *Config) {
		cfg.Brokers = c.Kfake.ListenAddrs()
		cfg.PendingAge.Method = PendingAgeNone
		cfg.Bindings = []BindingConfig{{Topic: "orders", ConsumerGroup: "g", Function: "f"}}
	})
	pts := scrapeOK(t, c, s)
	assert.Equal(t, int64(10), pts.intValue(t, pendingName, "f"))
	assert.False(t, pts.has(pendingAgeName, "f"))
}

func TestPendingAgeFetch(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(3, "orders"), kfake.SeedTopics(1, "audit"))
	s, clock := startScraperWith(t, func(cfg *Config) {
		cfg.Brokers = c.Kfake.ListenAddrs()
		cfg.PendingAge.Method = PendingAgeFetch
		cfg.Bindings = []BindingConfig{
			{Topic: "orders", ConsumerGroup: "workers", Function: "worker"},
			{Topic: "orders", ConsumerGroup: "ahead", Function: "ahead"},
			{Topic: "audit", ConsumerGroup: "auditors", Function: "auditor"},
		}
	})
	now := clock.Now()
	// One batch per partition; the first pending offsets sit inside them.
	c.ProduceAt("orders", 0, secondsBefore(now, 10, 591)...) // offset 4 is 596 s old, offset 8 592 s
	c.ProduceAt("orders", 1, secondsBefore(now, 5, 100)...)
	c.ProduceAt("orders", 2, secondsBefore(now, 3, 400)...) // offset 1 is 401 s old
	c.ProduceAt("audit", 0, secondsBefore(now, 4, 300)...)  // offset 0 is 303 s old
	c.Commit("workers", "orders", 0, 4)
	c.Commit("workers", "orders", 1, 5)
	c.Commit("workers", "orders", 2, 1)
	c.Commit("ahead", "orders", 0, 8)
	c.Commit("ahead", "orders", 1, 2)
	c.Commit("ahead", "orders", 2, 3)
	// Kafka guarantees a whole batch only to the first partition of a Fetch
	// response: partitions 0 and 1 share a leader, so both are in one
	// request, and partition 2 has another one.
	leader := c.Kfake.LeaderFor("orders", 0)
	require.NoError(t, c.Kfake.MoveTopicPartition("orders", 1, leader))
	require.NoError(t, c.Kfake.MoveTopicPartition("orders", 2, (leader+1)%3))

	pts := scrapeOK(t, c, s)
	assert.InDelta(t, 596, pts.seconds(t, "worker"), 1e-3, "the oldest pending record over the partitions, exact")
	assert.InDelta(t, 303, pts.seconds(t, "auditor"), 1e-3, "a group that never committed starts at the log start")
	// "ahead" shares partition 0 with "workers", which is further behind:
	// the Fetch reads that partition once, from the lower offset, and
	// "ahead" gets the estimate there, the first sight of offset 8 (0 s).
	// Its age is its exact partition 1: offset 2, 102 s old.
	assert.InDelta(t, 102, pts.seconds(t, "ahead"), 1e-3)

	clock.Advance(2 * time.Second)
	c.Commit("workers", "orders", 0, 10)
	pts = scrapeOK(t, c, s)
	assert.InDelta(t, 403, pts.seconds(t, "worker"), 1e-3)
	assert.InDelta(t, 305, pts.seconds(t, "auditor"), 1e-3)
	assert.InDelta(t, 594, pts.seconds(t, "ahead"), 1e-3, "alone on partition 0 now, its record is fetched")

	// A partition whose Fetch fails is aged by the estimate in that scrape,
	// never by a wrong record: the audit table dates offset 0 at its first
	// sight, 4 s ago.
	h := c.Kfake.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Topic: "audit", Err: kerr.UnknownServerError, Count: -1})
	clock.Advance(2 * time.Second)
	pts = scrapeOK(t, c, s)
	assert.InDelta(t, 4, pts.seconds(t, "auditor"), 1e-6)
	assert.InDelta(t, 405, pts.seconds(t, "worker"), 1e-3, "the other partitions are still fetched")
	h.Remove()
	clock.Advance(2 * time.Second)
	pts = scrapeOK(t, c, s)
	assert.InDelta(t, 309, pts.seconds(t, "auditor"), 1e-3)

	c.Commit("auditors", "audit", 0, 4)
	pts = scrapeOK(t, c, s)
	assert.Equal(t, 0.0, pts.seconds(t, "auditor"), "nothing pending is 0")
}

func TestPendingAgeFetchFallsBackWhenReadIsDenied(t *testing.T) {
	c := kafkatest.NewAs(t, []kgo.Opt{adminSASL},
		kfake.SeedTopics(1, "orders", "open"),
		kfake.EnableSASL(),
		kfake.EnableACLs(),
		kfake.Superuser("PLAIN", "admin", "admin-secret"),
		kfake.User("PLAIN", "monitor", "monitor-secret",
			kafkatest.AllowACL(kmsg.ACLResourceTypeTopic, "orders", kmsg.ACLOperationDescribe),
			kafkatest.AllowACL(kmsg.ACLResourceTypeTopic, "open", kmsg.ACLOperationDescribe),
			kafkatest.AllowACL(kmsg.ACLResourceTypeTopic, "open", kmsg.ACLOperationRead),
			kafkatest.AllowACL(kmsg.ACLResourceTypeGroup, "g", kmsg.ACLOperationDescribe),
		),
	)
	c.Commit("secret", "open", 0, 1)
	core, logs := observer.New(zapcore.InfoLevel)
	s, clock := startScraperLogging(t, componenttest.NewNopHost(), zap.New(core), func(cfg *Config) {
		cfg.Brokers = c.Kfake.ListenAddrs()
		cfg.Authentication.SASL = &configkafka.SASLConfig{Mechanism: MechanismPlain, Username: "monitor", Password: "monitor-secret"}
		cfg.PendingAge.Method = PendingAgeFetch
		cfg.Bindings = []BindingConfig{
			{Topic: "orders", ConsumerGroup: "g", Function: "denied"},
			{Topic: "open", ConsumerGroup: "g", Function: "allowed"},
			{Topic: "open", ConsumerGroup: "secret", Function: "group-denied"},
		}
	})
	now := clock.Now()
	c.ProduceAt("orders", 0, secondsBefore(now, 4, 60)...)
	c.ProduceAt("open", 0, secondsBefore(now, 4, 60)...)

	for i := range 3 {
		pts := scrapeOK(t, c, s)
		elapsed := float64(2 * i)
		assert.InDelta(t, 63+elapsed, pts.seconds(t, "allowed"), 1e-3, "scrape %d: Read granted, exact", i)
		assert.InDelta(t, elapsed, pts.seconds(t, "denied"), 1e-6, "scrape %d: Read denied, estimated from the first sight", i)
		// Without the group's commits the pending count is a fallback that
		// does not say where the group is: no age.
		assert.True(t, pts.has(pendingName, "group-denied"))
		assert.False(t, pts.has(pendingAgeName, "group-denied"), "scrape %d", i)
		clock.Advance(2 * time.Second)
	}
	denied := logs.FilterMessageSnippet("not authorized")
	require.Equal(t, 1, denied.Len(), "the fallback is logged once")
	assert.Equal(t, "orders", denied.All()[0].ContextMap()["topic"])
}

func TestPendingAgeRequestsPerScrape(t *testing.T) {
	const brokers, scrapes = 3, 5
	// The scrape without pending age: 2 ListOffsets per broker and one
	// OffsetFetch per coordinator. Metadata, refreshed at every scrape here
	// to see topology changes at once, is the requests test's business.
	budget := int64(3*brokers + 2*brokers) // and the members' describes
	tests := []struct {
		method           PendingAgeMethod
		fetchesPerScrape int64 // every broker leads lagging partitions
	}{
		{PendingAgeEstimate, 0},
		{PendingAgeFetch, brokers},
	}
	for _, tt := range tests {
		t.Run(string(tt.method), func(t *testing.T) {
			c, err := kfake.NewCluster(kfake.NumBrokers(brokers), kfake.SeedTopics(12, topicNames(60)...))
			require.NoError(t, err)
			defer c.Close()
			bindings := seedWorkload(t, c, 60, 120)
			s, _ := startScraperWith(t, func(cfg *Config) {
				cfg.Brokers = c.ListenAddrs()
				cfg.PendingAge.Method = tt.method
				cfg.Bindings = bindings
			})
			for range 2 { // connections, API versions, coordinators
				_, err := s.scrape(t.Context())
				require.NoError(t, err)
			}
			rc := countRequests(c)
			for range scrapes {
				md, err := s.scrape(t.Context())
				require.NoError(t, err)
				assert.Len(t, pointsByFunction(t, md)[pendingAgeName], len(bindings))
			}
			counts, total := rc.snapshot()
			t.Logf("requests over %d scrapes: %v", scrapes, counts)
			assert.Equal(t, scrapes*tt.fetchesPerScrape, counts["Fetch"], "one Fetch per leader broker with lagging partitions")
			assert.LessOrEqual(t, total-counts["Metadata"], scrapes*(budget+tt.fetchesPerScrape), "%v", counts)
		})
	}
}
