package kafkawakereceiver

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"

	"github.com/kafkawake/kafkawake/internal/kafkatest"
	schema "github.com/kafkawake/kafkawake/internal/metadata"
	"github.com/kafkawake/kafkawake/internal/testclock"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/metadata"
)

// The names of the metrics the tests read.
var (
	pendingName      = schema.MetricsInfo.SlimfaaskafkaPendingMessages.Name
	consumedName     = schema.MetricsInfo.SlimfaaskafkaConsumedMessages.Name
	lastActivityName = schema.MetricsInfo.SlimfaaskafkaLastActivityTimestamp.Name
	pendingAgeName   = schema.MetricsInfo.SlimfaaskafkaPendingAge.Name
	statusName       = schema.MetricsInfo.SlimfaaskafkaBindingStatus.Name
	membersName      = schema.MetricsInfo.SlimfaaskafkaGroupMembers.Name
	lostName         = schema.MetricsInfo.SlimfaaskafkaLostMessages.Name
	stalledName      = schema.MetricsInfo.SlimfaaskafkaStalledPartitions.Name
)

// stallTimeout is the scrape deadline of the tests that stall a broker: long
// enough for the healthy requests on a loaded machine, short enough to keep
// the tests quick.
const stallTimeout = 3 * time.Second

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
// The binding status, a set of points per binding, is indexed by its one
// status at 1 under statusName, whose point value is then the number of
// statuses the binding had at 1.
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
					if m.Name() == statusName {
						indexStatus(t, out, fn.Str(), dp)
						continue
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

// indexStatus keeps, per function, the status point at 1, and checks that
// each status has one point and at most one is 1.
func indexStatus(t *testing.T, out bindingPoints, function string, dp pmetric.NumberDataPoint) {
	t.Helper()
	status, ok := dp.Attributes().Get("status")
	require.True(t, ok, "binding status point without status")
	seen := out[statusName+"/seen"]
	if seen == nil {
		seen = map[string]pmetric.NumberDataPoint{}
		out[statusName+"/seen"] = seen
	}
	key := function + "/" + status.Str()
	_, dup := seen[key]
	require.False(t, dup, "two %s points for function %s", status.Str(), function)
	seen[key] = dp
	if dp.IntValue() == 1 {
		_, two := out[statusName][function]
		require.False(t, two, "function %s has two statuses at 1", function)
		out[statusName][function] = dp
	}
}

// status is the function's status in the scrape.
func (b bindingPoints) status(t *testing.T, function string) string {
	t.Helper()
	dp, ok := b[statusName][function]
	require.True(t, ok, "no status at 1 for function %s", function)
	s, _ := dp.Attributes().Get("status")
	return s.Str()
}

// scrapeOK scrapes and requires a complete scrape.
func scrapeOK(t *testing.T, c *kafkatest.Cluster, s *kafkaScraper) bindingPoints {
	t.Helper()
	md, err := s.scrape(c.Ctx())
	require.NoError(t, err)
	return pointsByFunction(t, md)
}

// scrapeFailing scrapes and requires the scrape to report an error, and
// returns the points it still emitted.
func scrapeFailing(t *testing.T, c *kafkatest.Cluster, s *kafkaScraper) bindingPoints {
	t.Helper()
	md, err := s.scrape(c.Ctx())
	require.Error(t, err)
	return pointsByFunction(t, md)
}

// stall holds, until released, the requests of one key that one node
// receives and that match, through kfake's SleepControl.
type stall struct {
	release chan struct{}
	stalled atomic.Int64
}

func stallRequests(t testing.TB, c *kfake.Cluster, key kmsg.Key, node int32, match func(kmsg.Request) bool) *stall {
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

// requestCounter counts, on the kfake server, every request it receives by
// API key.
type requestCounter struct {
	byKey [kmsg.MaxKey + 1]atomic.Int64
}

func countRequests(c *kfake.Cluster) *requestCounter {
	rc := &requestCounter{}
	c.Control(func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if key := req.Key(); key >= 0 && int(key) < len(rc.byKey) {
			rc.byKey[key].Add(1)
		}
		return nil, nil, false
	})
	return rc
}

// snapshot returns the counts by API name, and their total.
func (rc *requestCounter) snapshot() (map[string]int64, int64) {
	counts := map[string]int64{}
	var total int64
	for key := range rc.byKey {
		if n := rc.byKey[key].Load(); n > 0 {
			counts[kmsg.NameForKey(int16(key))] = n
			total += n
		}
	}
	return counts, total
}

// seedWorkload creates topics × partitions with records on every partition,
// and bindings that each pair one topic with one group; every other group
// has committed half of its topic.
func seedWorkload(tb testing.TB, c *kfake.Cluster, topics, bindings int) []BindingConfig {
	tb.Helper()
	client, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DisableClientMetrics(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(tb, err)
	defer client.Close()
	ctx := tb.Context()
	adm := kadm.NewClient(client)
	details := fillEveryPartition(tb, client)

	out := make([]BindingConfig, bindings)
	for i := range out {
		topic := fmt.Sprintf("topic-%03d", i%topics)
		group := fmt.Sprintf("group-%03d", i)
		out[i] = BindingConfig{Topic: topic, ConsumerGroup: group, Function: fmt.Sprintf("fn-%03d", i)}
		if i%2 == 0 {
			var offsets kadm.Offsets
			for p := range details[topic].Partitions {
				offsets.Add(kadm.Offset{Topic: topic, Partition: p, At: 2, LeaderEpoch: -1})
			}
			_, err := adm.CommitOffsets(ctx, group, offsets)
			require.NoError(tb, err)
		}
	}
	return out
}

// fillEveryPartition writes 4 records to every partition of every topic,
// with a client using the manual partitioner, and returns the topics.
func fillEveryPartition(tb testing.TB, client *kgo.Client) kadm.TopicDetails {
	tb.Helper()
	details, err := kadm.NewClient(client).ListTopics(tb.Context())
	require.NoError(tb, err)
	var records []*kgo.Record
	for _, td := range details {
		for p := range td.Partitions {
			for range 4 {
				records = append(records, &kgo.Record{Topic: td.Topic, Partition: p, Value: []byte("m")})
			}
		}
	}
	require.NoError(tb, client.ProduceSync(tb.Context(), records...).FirstErr())
	return details
}

func topicNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("topic-%03d", i)
	}
	return names
}

func (b bindingPoints) seconds(t *testing.T, function string) float64 {
	t.Helper()
	dp, ok := b[pendingAgeName][function]
	require.True(t, ok, "no %s point for function %s", pendingAgeName, function)
	return dp.DoubleValue()
}

// secondsBefore returns n timestamps, one second apart, the last one `last`
// seconds before now.
func secondsBefore(now time.Time, n int, last int) []time.Time {
	out := make([]time.Time, n)
	for i := range out {
		out[i] = now.Add(time.Duration(last+n-1-i) * -time.Second)
	}
	return out
}

// startThreePendingBindings starts a scraper of three bindings f0, f1, f2 of
// one topic of ten messages, each group committed at 2.
func startThreePendingBindings(t *testing.T) (*kafkatest.Cluster, *kafkaScraper, *testclock.Clock) {
	t.Helper()
	c := kafkatest.New(t, kfake.SeedTopics(1, "orders"))
	c.Produce("orders", 0, 10)
	bindings := numberedBindings(3)
	for _, b := range bindings {
		c.Commit(b.ConsumerGroup, "orders", 0, 2)
	}
	s, clock := startScraper(t, c.Kfake.ListenAddrs(), OffsetResetEarliest, bindings...)
	return c, s, clock
}

// numberedBindings returns n bindings of topic orders, binding i with group
// gi and function fi.
func numberedBindings(n int) []BindingConfig {
	bindings := make([]BindingConfig, n)
	for i := range bindings {
		bindings[i] = BindingConfig{Topic: "orders", ConsumerGroup: fmt.Sprintf("g%d", i), Function: fmt.Sprintf("f%d", i)}
	}
	return bindings
}

// startCoordinatedScraper starts a scraper that joins the coordination
// group "replicas" of c with a 6 s session; the caller shuts it down.
func startCoordinatedScraper(t *testing.T, c *kafkatest.Cluster, bindings []BindingConfig, report ReportScope) *kafkaScraper {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.Brokers = c.Kfake.ListenAddrs()
	cfg.Bindings = bindings
	cfg.Coordination = configoptional.Some(CoordinationConfig{Group: "replicas", SessionTimeout: 6 * time.Second, HeartbeatInterval: 500 * time.Millisecond, Report: report})
	require.NoError(t, cfg.Validate())
	s := newKafkaScraper(cfg, receivertest.NewNopSettings(metadata.Type))
	require.NoError(t, s.start(context.Background(), componenttest.NewNopHost()))
	return s
}

// settableOwner is an assignment the test changes between scrapes.
type settableOwner struct {
	mu      sync.Mutex
	indexes []int
}

func (o *settableOwner) set(indexes ...int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.indexes = indexes
}

func (o *settableOwner) Owned() (int32, []int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return 1, o.indexes
}
