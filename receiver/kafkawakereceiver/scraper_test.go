package kafkawakereceiver

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/collector/scraper/scrapererror"
	"go.uber.org/zap"

	schema "github.com/kafkawake/kafkawake/internal/metadata"
	"github.com/kafkawake/kafkawake/internal/testclock"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/metadata"
)

func startScraper(t *testing.T, brokers []string, reset OffsetReset, bindings ...BindingConfig) (*kafkaScraper, *testclock.Clock) {
	t.Helper()
	return startScraperWith(t, func(cfg *Config) {
		cfg.Brokers = brokers
		cfg.OffsetReset = reset
		cfg.Bindings = bindings
	})
}

// startScraperWith starts a scraper on a valid configuration that configure
// adjusts, with the client options of a real receiver.
func startScraperWith(t *testing.T, configure func(*Config)) (*kafkaScraper, *testclock.Clock) {
	t.Helper()
	return startScraperOn(t, componenttest.NewNopHost(), configure)
}

// startScraperOn starts a scraper on a host that may run extensions.
func startScraperOn(t *testing.T, host component.Host, configure func(*Config)) (*kafkaScraper, *testclock.Clock) {
	t.Helper()
	return startScraperLogging(t, host, zap.NewNop(), configure)
}

// startScraperLogging starts a scraper that logs to logger.
func startScraperLogging(t *testing.T, host component.Host, logger *zap.Logger, configure func(*Config)) (*kafkaScraper, *testclock.Clock) {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	configure(cfg)
	require.NoError(t, cfg.Validate())
	set := receivertest.NewNopSettings(metadata.Type)
	set.Logger = logger
	s := newKafkaScraper(cfg, set)
	clock := testclock.New(time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC))
	s.now = clock.Now
	require.NoError(t, s.start(context.Background(), host))
	t.Cleanup(func() { require.NoError(t, s.shutdown(context.Background())) })
	return s, clock
}

// bindingPoints indexes one scrape's points by metric name and function.
type bindingPoints map[string]map[string]pmetric.NumberDataPoint

func pointsByFunction(t *testing.T, md pmetric.Metrics) bindingPoints {
	t.Helper()
	out := bindingPoints{}
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				var dps pmetric.NumberDataPointSlice
				switch m.Type() {
				case pmetric.MetricTypeGauge:
					dps = m.Gauge().DataPoints()
				case pmetric.MetricTypeSum:
					dps = m.Sum().DataPoints()
				default:
					t.Fatalf("unexpected metric type %s for %s", m.Type(), m.Name())
				}
				for _, dp := range dps.All() {
					fn, ok := dp.Attributes().Get("function")
					require.True(t, ok, "%s point without function attribute", m.Name())
					if out[m.Name()] == nil {
						out[m.Name()] = map[string]pmetric.NumberDataPoint{}
					}
					_, dup := out[m.Name()][fn.Str()]
					require.False(t, dup, "%s has two points for function %s", m.Name(), fn.Str())
					out[m.Name()][fn.Str()] = dp
				}
			}
		}
	}
	return out
}

func (b bindingPoints) intValue(t *testing.T, metric, function string) int64 {
	t.Helper()
	dp, ok := b[metric][function]
	require.True(t, ok, "no %s point for function %s", metric, function)
	return dp.IntValue()
}

func (b bindingPoints) has(metric, function string) bool {
	_, ok := b[metric][function]
	return ok
}

var (
	pendingName      = schema.MetricsInfo.SlimfaaskafkaPendingMessages.Name
	consumedName     = schema.MetricsInfo.SlimfaaskafkaConsumedMessages.Name
	lastActivityName = schema.MetricsInfo.SlimfaaskafkaLastActivityTimestamp.Name
)

func TestScrapeCommittedAndNeverCommittedGroups(t *testing.T) {
	c := newTestCluster(t, kfake.SeedTopics(3, "orders"))
	for p := range int32(3) {
		c.produce("orders", p, 10)
	}
	// "workers" committed partially; "sleepers" never committed (kfake
	// answers GROUP_ID_NOT_FOUND for it, Kafka would answer -1 offsets).
	c.commit("workers", "orders", 0, 4)
	c.commit("workers", "orders", 1, 10)

	s, clock := startScraper(t, c.cluster.ListenAddrs(), OffsetResetEarliest,
		BindingConfig{Topic: "orders", ConsumerGroup: "workers", Function: "worker"},
		BindingConfig{Topic: "orders", ConsumerGroup: "sleepers", Function: "sleeper"},
	)

	md, err := s.scrape(c.ctx())
	require.NoError(t, err)
	pts := pointsByFunction(t, md)
	assert.Equal(t, int64(6+0+10), pts.intValue(t, pendingName, "worker"))
	assert.Equal(t, int64(30), pts.intValue(t, pendingName, "sleeper"))
	assert.Equal(t, int64(0), pts.intValue(t, consumedName, "worker"))
	assert.False(t, pts.has(lastActivityName, "worker"), "the first observation is a baseline, never activity")

	attrs := pts[pendingName]["worker"].Attributes().AsRaw()
	assert.Equal(t, map[string]any{"topic": "orders", "group": "workers", "function": "worker"}, attrs)

	// The worker consumes 3 more on partition 0 and starts partition 2.
	c.commit("workers", "orders", 0, 7)
	c.commit("workers", "orders", 2, 2)
	clock.Advance(2 * time.Second)
	md, err = s.scrape(c.ctx())
	require.NoError(t, err)
	pts = pointsByFunction(t, md)
	assert.Equal(t, int64(3+0+8), pts.intValue(t, pendingName, "worker"))
	assert.Equal(t, int64(3+2), pts.intValue(t, consumedName, "worker"), "a partition's first commit counts from its log start")
	assert.Equal(t, float64(clock.Now().Unix()), pts[lastActivityName]["worker"].DoubleValue())
	assert.Equal(t, pcommon.NewTimestampFromTime(clock.Now()), pts[pendingName]["worker"].Timestamp())
	assert.False(t, pts.has(lastActivityName, "sleeper"))
}

func TestScrapeMissingTopicIsAnErrorNotZero(t *testing.T) {
	c := newTestCluster(t, kfake.SeedTopics(1, "orders"))
	c.produce("orders", 0, 5)
	s, _ := startScraper(t, c.cluster.ListenAddrs(), OffsetResetEarliest,
		BindingConfig{Topic: "orders", ConsumerGroup: "g", Function: "present"},
		BindingConfig{Topic: "no-such-topic", ConsumerGroup: "g", Function: "absent"},
	)

	md, err := s.scrape(c.ctx())
	require.Error(t, err)
	assert.True(t, scrapererror.IsPartialScrapeError(err))
	assert.ErrorContains(t, err, `binding topic "no-such-topic", consumer_group "g", function "absent"`)
	assert.ErrorContains(t, err, `topic "no-such-topic" does not exist`)

	pts := pointsByFunction(t, md)
	assert.Equal(t, int64(5), pts.intValue(t, pendingName, "present"))
	assert.False(t, pts.has(pendingName, "absent"), "an unreadable binding must not be reported as 0 pending")

	topics, err := c.adm.ListTopics(c.ctx())
	require.NoError(t, err)
	assert.False(t, topics.Has("no-such-topic"), "the receiver must never create topics")
}
