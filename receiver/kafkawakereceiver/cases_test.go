package kafkawakereceiver

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.opentelemetry.io/collector/scraper/scrapererror"

	schema "github.com/kafkawake/kafkawake/internal/metadata"
)

// scrapeOK scrapes and requires a complete scrape.
func scrapeOK(t *testing.T, c *testCluster, s *kafkaScraper) bindingPoints {
	t.Helper()
	md, err := s.scrape(c.ctx())
	require.NoError(t, err)
	return pointsByFunction(t, md)
}

func TestRetentionAndOutOfRangeCommits(t *testing.T) {
	c := newTestCluster(t, kfake.SeedTopics(2, "events"))
	c.produce("events", 0, 100)
	c.produce("events", 1, 100)
	c.commit("g", "events", 0, 60)  // below the log start once records are deleted
	c.commit("g", "events", 1, 130) // above the high watermark (stale commit)
	require.NoError(t, c.cluster.DeleteRecords("events", 0, 80))
	require.NoError(t, c.cluster.DeleteRecords("events", 1, 90))

	s, _ := startScraper(t, c.cluster.ListenAddrs(), OffsetResetEarliest,
		BindingConfig{Topic: "events", ConsumerGroup: "g", Function: "committed"},
		BindingConfig{Topic: "events", ConsumerGroup: "never", Function: "uncommitted"},
	)
	pts := scrapeOK(t, c, s)
	// Partition 0: only the 20 retained messages; partition 1: nothing, not -30.
	assert.Equal(t, int64(20), pts.intValue(t, pendingName, "committed"))
	// No commit, earliest: what is still retained, 20 + 10.
	assert.Equal(t, int64(30), pts.intValue(t, pendingName, "uncommitted"))
}

func TestOffsetResetLatestBaseline(t *testing.T) {
	c := newTestCluster(t, kfake.SeedTopics(2, "events"))
	c.produce("events", 0, 50)
	s, _ := startScraper(t, c.cluster.ListenAddrs(), OffsetResetLatest,
		BindingConfig{Topic: "events", ConsumerGroup: "g", Function: "f"})

	assert.Equal(t, int64(0), scrapeOK(t, c, s).intValue(t, pendingName, "f"), "history is not pending under latest")
	c.produce("events", 0, 3)
	c.produce("events", 1, 4)
	assert.Equal(t, int64(7), scrapeOK(t, c, s).intValue(t, pendingName, "f"))
	c.commit("g", "events", 0, 53)
	assert.Equal(t, int64(4), scrapeOK(t, c, s).intValue(t, pendingName, "f"))
}

func TestRewindAndAddedPartitions(t *testing.T) {
	c := newTestCluster(t, kfake.SeedTopics(1, "events"))
	c.produce("events", 0, 100)
	c.commit("g", "events", 0, 60)
	s, clock := startScraper(t, c.cluster.ListenAddrs(), OffsetResetEarliest,
		BindingConfig{Topic: "events", ConsumerGroup: "g", Function: "f"})
	pts := scrapeOK(t, c, s)
	assert.Equal(t, int64(40), pts.intValue(t, pendingName, "f"))

	// An operator rewinds the group to replay: more pending, no consumption.
	c.commit("g", "events", 0, 10)
	clock.Advance(2 * time.Second)
	pts = scrapeOK(t, c, s)
	assert.Equal(t, int64(90), pts.intValue(t, pendingName, "f"))
	assert.Equal(t, int64(0), pts.intValue(t, consumedName, "f"))
	assert.False(t, pts.has(lastActivityName, "f"))

	// Two partitions are added and receive messages.
	_, err := c.adm.CreatePartitions(c.ctx(), 2, "events")
	require.NoError(t, err)
	c.produce("events", 1, 5)
	c.produce("events", 2, 7)
	c.commit("g", "events", 0, 15)
	clock.Advance(2 * time.Second)
	pts = scrapeOK(t, c, s)
	assert.Equal(t, int64(85+5+7), pts.intValue(t, pendingName, "f"))
	assert.Equal(t, int64(5), pts.intValue(t, consumedName, "f"))
	assert.Equal(t, float64(clock.Now().Unix()), pts[lastActivityName]["f"].DoubleValue())
}

func TestTopicDeletedWhileRunning(t *testing.T) {
	c := newTestCluster(t, kfake.SeedTopics(1, "doomed", "kept"))
	c.produce("doomed", 0, 3)
	c.produce("kept", 0, 4)
	s, _ := startScraper(t, c.cluster.ListenAddrs(), OffsetResetEarliest,
		BindingConfig{Topic: "doomed", ConsumerGroup: "g", Function: "doomed"},
		BindingConfig{Topic: "kept", ConsumerGroup: "g", Function: "kept"})
	assert.Equal(t, int64(3), scrapeOK(t, c, s).intValue(t, pendingName, "doomed"))

	require.NoError(t, c.cluster.DeleteTopic("doomed"))
	for range 2 { // the first scrape may still use the old leaders
		md, err := s.scrape(c.ctx())
		require.Error(t, err)
		assert.True(t, scrapererror.IsPartialScrapeError(err))
		assert.ErrorContains(t, err, `topic "doomed"`)
		assert.ErrorContains(t, err, kerr.UnknownTopicOrPartition.Message)
		pts := pointsByFunction(t, md)
		assert.False(t, pts.has(pendingName, "doomed"))
		assert.Equal(t, int64(4), pts.intValue(t, pendingName, "kept"))
	}
}

func TestBindingsSharingTopicAndGroup(t *testing.T) {
	c := newTestCluster(t, kfake.SeedTopics(3, "shared"))
	for p := range int32(3) {
		c.produce("shared", p, 10)
	}
	c.commit("g1", "shared", 0, 10)
	s, _ := startScraper(t, c.cluster.ListenAddrs(), OffsetResetEarliest,
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

func TestSlowBrokerRespectsTimeout(t *testing.T) {
	c := newTestCluster(t, kfake.SeedTopics(3, "events"))
	c.produce("events", 0, 5)
	s, _ := startScraper(t, c.cluster.ListenAddrs(), OffsetResetEarliest,
		BindingConfig{Topic: "events", ConsumerGroup: "g", Function: "f"})
	scrapeOK(t, c, s) // warm metadata and connections

	// Every ListOffsets stalls until released, well past the scrape's deadline.
	var stalling atomic.Bool
	stalling.Store(true)
	release := make(chan struct{})
	c.cluster.ControlKey(int16(kmsg.ListOffsets), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.cluster.KeepControl()
		if stalling.Load() {
			c.cluster.SleepControl(func() { <-release })
		}
		return nil, nil, false
	})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	md, err := s.scrape(ctx)
	require.Error(t, err)
	assert.ErrorContains(t, err, context.DeadlineExceeded.Error())
	assert.ErrorContains(t, err, `binding topic "events"`)
	assert.False(t, pointsByFunction(t, md).has(pendingName, "f"), "a timed-out read must not be reported as 0")

	// The broker recovers: the next scrape is right.
	stalling.Store(false)
	close(release)
	assert.Equal(t, int64(5), scrapeOK(t, c, s).intValue(t, pendingName, "f"))
}

func TestCoordinatorErrorsAreRetriedOrReported(t *testing.T) {
	c := newTestCluster(t, kfake.SeedTopics(2, "events"))
	c.produce("events", 0, 10)
	c.commit("g", "events", 0, 4)
	s, _ := startScraper(t, c.cluster.ListenAddrs(), OffsetResetEarliest,
		BindingConfig{Topic: "events", ConsumerGroup: "g", Function: "f"})

	// A coordinator that is loading answers retriable errors: the client
	// retries and the values are right.
	c.cluster.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetFetch}, Group: "g", Err: kerr.CoordinatorLoadInProgress, Count: 2})
	assert.Equal(t, int64(6), scrapeOK(t, c, s).intValue(t, pendingName, "f"))

	// A coordinator that keeps failing is an explicit error, never a 0.
	h := c.cluster.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetFetch}, Group: "g", Err: kerr.UnknownServerError, Count: -1})
	md, err := s.scrape(c.ctx())
	require.Error(t, err)
	assert.ErrorContains(t, err, `reading committed offsets of group "g"`)
	assert.False(t, pointsByFunction(t, md).has(pendingName, "f"))

	// Recovery: correct values on the next scrape.
	h.Remove()
	assert.Equal(t, int64(6), scrapeOK(t, c, s).intValue(t, pendingName, "f"))
}

func TestPartitionErrorIsReportedNotZero(t *testing.T) {
	c := newTestCluster(t, kfake.SeedTopics(2, "events"))
	c.produce("events", 1, 10)
	s, _ := startScraper(t, c.cluster.ListenAddrs(), OffsetResetEarliest,
		BindingConfig{Topic: "events", ConsumerGroup: "g", Function: "f"})
	c.cluster.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.ListOffsets}, Topic: "events", Partitions: []int32{1}, Err: kerr.UnknownServerError, Count: -1})
	md, err := s.scrape(c.ctx())
	require.Error(t, err)
	assert.ErrorContains(t, err, `partition 1 of topic "events" on broker`)
	assert.False(t, pointsByFunction(t, md).has(pendingName, "f"))
}

func TestLeaderMovesKeepValuesRight(t *testing.T) {
	c := newTestCluster(t, kfake.SeedTopics(6, "events"))
	for p := range int32(6) {
		c.produce("events", p, int(p)+1)
	}
	c.commit("g", "events", 5, 6)
	s, _ := startScraper(t, c.cluster.ListenAddrs(), OffsetResetEarliest,
		BindingConfig{Topic: "events", ConsumerGroup: "g", Function: "f"})
	assert.Equal(t, int64(15), scrapeOK(t, c, s).intValue(t, pendingName, "f"))
	for range 3 {
		c.cluster.ShufflePartitionLeaders()
		c.cluster.RehashCoordinators()
		// Until the client learns the new leaders a scrape may fail, but it
		// never reports a wrong value, and it recovers within a few scrapes.
		recovered := false
		for attempt := 0; attempt < 50 && !recovered; attempt++ {
			md, err := s.scrape(c.ctx())
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

func TestPerPartitionPendingIsOptional(t *testing.T) {
	c := newTestCluster(t, kfake.SeedTopics(3, "events"))
	c.produce("events", 0, 4)
	c.produce("events", 2, 9)
	c.commit("g", "events", 2, 3)
	partitionName := schema.MetricsInfo.SlimfaaskafkaPartitionPendingMessages.Name

	for _, enabled := range []bool{false, true} {
		s, _ := startScraperWith(t, func(cfg *Config) {
			cfg.Brokers = c.cluster.ListenAddrs()
			cfg.Metrics.SlimfaaskafkaPartitionPendingMessages.Enabled = enabled
			cfg.Bindings = []BindingConfig{{Topic: "events", ConsumerGroup: "g", Function: "f"}}
		})
		md, err := s.scrape(c.ctx())
		require.NoError(t, err)
		byPartition := map[int64]int64{}
		for _, rm := range md.ResourceMetrics().All() {
			for _, sm := range rm.ScopeMetrics().All() {
				for _, m := range sm.Metrics().All() {
					if m.Name() != partitionName {
						continue
					}
					for _, dp := range m.Gauge().DataPoints().All() {
						p, ok := dp.Attributes().Get("partition")
						require.True(t, ok)
						byPartition[p.Int()] = dp.IntValue()
					}
				}
			}
		}
		if !enabled {
			assert.Empty(t, byPartition, "disabled by default")
			continue
		}
		assert.Equal(t, map[int64]int64{0: 4, 1: 0, 2: 6}, byPartition)
	}
}

func TestManyBindingsAreOneResourceWithOnePointEach(t *testing.T) {
	const topics, bindings = 7, 3*bindingsPerEmit + 5
	names := make([]string, topics)
	for i := range names {
		names[i] = fmt.Sprintf("t%d", i)
	}
	c := newTestCluster(t, kfake.SeedTopics(1, names...))
	var configs []BindingConfig
	for i, name := range names {
		c.produce(name, 0, i+1)
	}
	for i := range bindings {
		configs = append(configs, BindingConfig{Topic: names[i%topics], ConsumerGroup: fmt.Sprintf("g%d", i), Function: fmt.Sprintf("f%d", i)})
	}
	s, _ := startScraper(t, c.cluster.ListenAddrs(), OffsetResetEarliest, configs...)
	md, err := s.scrape(c.ctx())
	require.NoError(t, err)
	require.Equal(t, 1, md.ResourceMetrics().Len())
	require.Equal(t, 1, md.ResourceMetrics().At(0).ScopeMetrics().Len())
	pts := pointsByFunction(t, md) // fails on a second point for a function
	require.Len(t, pts[pendingName], bindings)
	require.Len(t, pts[consumedName], bindings)
	for i := range bindings {
		assert.Equal(t, int64(i%topics+1), pts.intValue(t, pendingName, fmt.Sprintf("f%d", i)))
	}
}

func TestClusterAliasIsAResourceAttribute(t *testing.T) {
	c := newTestCluster(t, kfake.SeedTopics(1, "orders"))
	bindings := make([]BindingConfig, bindingsPerEmit+1) // two emits merged into one resource
	for i := range bindings {
		bindings[i] = BindingConfig{Topic: "orders", ConsumerGroup: fmt.Sprintf("g%d", i), Function: fmt.Sprintf("f%d", i)}
	}
	tests := []struct {
		name      string
		configure func(*Config)
		want      map[string]any
	}{
		{"alias set", func(cfg *Config) { cfg.ClusterAlias = "eu-prod" }, map[string]any{"kafka.cluster.alias": "eu-prod"}},
		{"no alias", func(*Config) {}, map[string]any{}},
		{"attribute disabled", func(cfg *Config) {
			cfg.ClusterAlias = "eu-prod"
			cfg.ResourceAttributes.KafkaClusterAlias.Enabled = false
		}, map[string]any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := startScraperWith(t, func(cfg *Config) {
				cfg.Brokers = c.cluster.ListenAddrs()
				cfg.Bindings = bindings
				tt.configure(cfg)
			})
			for range 2 {
				md, err := s.scrape(c.ctx())
				require.NoError(t, err)
				require.Equal(t, 1, md.ResourceMetrics().Len())
				assert.Equal(t, tt.want, md.ResourceMetrics().At(0).Resource().Attributes().AsRaw())
			}
		})
	}
}
