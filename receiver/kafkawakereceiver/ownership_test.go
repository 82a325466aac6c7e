package kafkawakereceiver

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/kafkawake/kafkawake/internal/kafkatest"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/metadata"
)

func TestScrapeObservesOnlyTheOwnedBindings(t *testing.T) {
	c, s, clock := startThreePendingBindings(t)
	owner := &settableOwner{}
	s.owner, s.observeAll = owner, false

	md, err := s.scrape(c.Ctx())
	require.NoError(t, err)
	assert.Zero(t, md.DataPointCount(), "no assignment yet: nothing is emitted")

	owner.set(0, 2)
	md, err = s.scrape(c.Ctx())
	require.NoError(t, err)
	pts := pointsByFunction(t, md)
	assert.Equal(t, int64(8), pts.intValue(t, pendingName, "f0"))
	assert.Equal(t, int64(8), pts.intValue(t, pendingName, "f2"))
	assert.False(t, pts.has(pendingName, "f1"), "a binding another replica owns is not emitted")
	assert.Equal(t, []string{"orders"}, s.scope.topics)
	assert.Equal(t, []string{"g0", "g2"}, s.scope.groups, "only the owned bindings' groups are read")

	// f0 consumes while owned; f1 consumes while another replica owns it.
	c.Commit("g0", "orders", 0, 5)
	c.Commit("g1", "orders", 0, 5)
	clock.Advance(2 * time.Second)
	owner.set(0, 1)
	md, err = s.scrape(c.Ctx())
	require.NoError(t, err)
	pts = pointsByFunction(t, md)
	assert.Equal(t, int64(3), pts.intValue(t, consumedName, "f0"))
	assert.True(t, pts.has(lastActivityName, "f0"))
	assert.Equal(t, int64(5), pts.intValue(t, pendingName, "f1"))
	assert.Equal(t, int64(0), pts.intValue(t, consumedName, "f1"), "a binding that moved in starts from a baseline")
	assert.False(t, pts.has(lastActivityName, "f1"), "a baseline is never activity")
	assert.False(t, pts.has(pendingName, "f2"), "a binding that moved out is no longer emitted")

	// f0 leaves and comes back: what it consumed meanwhile is not counted.
	owner.set(1)
	_, err = s.scrape(c.Ctx())
	require.NoError(t, err)
	c.Commit("g0", "orders", 0, 9)
	owner.set(0, 1)
	md, err = s.scrape(c.Ctx())
	require.NoError(t, err)
	pts = pointsByFunction(t, md)
	assert.Equal(t, int64(0), pts.intValue(t, consumedName, "f0"))
	assert.Equal(t, int64(1), pts.intValue(t, pendingName, "f0"))
}

// Two receivers in the same coordination group split the bindings between
// them over their own Kafka clients, and a receiver that shuts down hands
// its bindings over to the other.
func TestReceiversInOneCoordinationGroupSplitTheBindings(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(1, "orders"))
	c.Produce("orders", 0, 3)
	bindings := numberedBindings(12)
	start := func() *kafkaScraper { return startCoordinatedScraper(t, c, bindings, ReportOwned) }
	functions := func(s *kafkaScraper) map[string]bool {
		md, err := s.scrape(c.Ctx())
		require.NoError(t, err)
		out := map[string]bool{}
		for fn := range pointsByFunction(t, md)[pendingName] {
			out[fn] = true
		}
		return out
	}
	a, b := start(), start()
	t.Cleanup(func() { require.NoError(t, a.shutdown(context.Background())) })
	require.Eventually(t, func() bool {
		fa, fb := functions(a), functions(b)
		for fn := range fa {
			if fb[fn] {
				return false
			}
		}
		return len(fa) > 0 && len(fb) > 0 && len(fa)+len(fb) == len(bindings)
	}, 20*time.Second, 50*time.Millisecond)

	require.NoError(t, b.shutdown(context.Background()))
	require.Eventually(t, func() bool { return len(functions(a)) == len(bindings) }, 5*time.Second, 50*time.Millisecond,
		"a clean shutdown hands the bindings over without waiting for the session timeout")
}

// A binding another replica owns is not read, and its missing read must not
// look like a topic without partitions: the owned binding of the same topic
// keeps its watermark history, so its pending age is estimated, not lost.
func TestAnotherReplicasBindingKeepsTheTopicsPendingAge(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(1, "orders"))
	c.Produce("orders", 0, 10)
	c.Commit("g0", "orders", 0, 10)
	s, clock := startScraper(t, c.Kfake.ListenAddrs(), OffsetResetEarliest,
		BindingConfig{Topic: "orders", ConsumerGroup: "g0", Function: "f0"},
		BindingConfig{Topic: "orders", ConsumerGroup: "g1", Function: "f1"},
	)
	owner := &settableOwner{}
	owner.set(0)
	s.owner, s.observeAll = owner, false

	_, err := s.scrape(c.Ctx())
	require.NoError(t, err)
	clock.Advance(10 * time.Second)
	c.Produce("orders", 0, 10)
	md, err := s.scrape(c.Ctx())
	require.NoError(t, err)
	pts := pointsByFunction(t, md)
	// Offset 10 is the first of the ten produced between the two scrapes,
	// dated 1 s after the first one.
	assert.InDelta(t, 9, pts.seconds(t, "f0"), 1e-6)
	assert.False(t, pts.has(pendingAgeName, "f1"))
}

// Bindings an assignment brings to a replica are reported at once, not at
// its next scrape: with a one-minute interval, the replica that stays
// reports the bindings of the one that left within seconds, and the first
// report of a binding new to it is a baseline.
func TestMovedInBindingsAreReportedBeforeTheNextScrape(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(1, "orders"))
	c.Produce("orders", 0, 3)
	var bindings []BindingConfig
	for i := range 6 {
		bindings = append(bindings, BindingConfig{Topic: "orders", ConsumerGroup: fmt.Sprintf("g%d", i), Function: fmt.Sprintf("f%d", i)})
	}
	start := func() (*consumertest.MetricsSink, func()) {
		cfg := createDefaultConfig().(*Config)
		cfg.Brokers = c.Kfake.ListenAddrs()
		cfg.CollectionInterval = time.Minute
		cfg.Bindings = bindings
		cfg.Coordination = configoptional.Some(CoordinationConfig{Group: "replicas", SessionTimeout: 6 * time.Second, HeartbeatInterval: 500 * time.Millisecond, Report: ReportOwned})
		require.NoError(t, cfg.Validate())
		sink := new(consumertest.MetricsSink)
		rcv, err := createMetricsReceiver(context.Background(), receivertest.NewNopSettings(metadata.Type), cfg, sink)
		require.NoError(t, err)
		require.NoError(t, rcv.Start(context.Background(), componenttest.NewNopHost()))
		return sink, func() { require.NoError(t, rcv.Shutdown(context.Background())) }
	}
	// reported lists the functions with a pending point in what sink got.
	reported := func(sink *consumertest.MetricsSink) map[string]bool {
		out := map[string]bool{}
		for _, md := range sink.AllMetrics() {
			for fn := range pointsByFunction(t, md)[pendingName] {
				out[fn] = true
			}
		}
		return out
	}

	a, stopA := start()
	t.Cleanup(stopA)
	require.Eventually(t, func() bool { return len(reported(a)) == len(bindings) }, 20*time.Second, 50*time.Millisecond,
		"the first assignment is reported without waiting for the next scrape")
	b, stopB := start()
	require.Eventually(t, func() bool { return len(reported(b)) > 0 }, 20*time.Second, 50*time.Millisecond,
		"the second replica reports its share as soon as it has one")

	a.Reset()
	taken := reported(b)
	stopB()
	require.Eventually(t, func() bool {
		got := reported(a)
		for fn := range taken {
			if !got[fn] {
				return false
			}
		}
		return true
	}, 10*time.Second, 50*time.Millisecond, "the bindings of the replica that left are reported by the other one at once")
	for _, md := range a.AllMetrics() {
		for fn, dp := range pointsByFunction(t, md)[consumedName] {
			assert.Zero(t, dp.IntValue(), "a moved-in binding starts from a baseline: %s", fn)
		}
	}
}

// With Kafka no longer answering, a shutdown does not wait for the
// coordinator: leaving the group is given shutdown_timeout, and skipped
// after it, so a pod stops within Kubernetes' grace period.
func TestShutdownWithAnUnansweringCoordinatorIsBounded(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(1, "orders"))
	cfg := createDefaultConfig().(*Config)
	cfg.Brokers = c.Kfake.ListenAddrs()
	cfg.Bindings = []BindingConfig{{Topic: "orders", ConsumerGroup: "g", Function: "f"}}
	cfg.Coordination = configoptional.Some(CoordinationConfig{Group: "replicas", SessionTimeout: 60 * time.Second, HeartbeatInterval: time.Second})
	cfg.ShutdownTimeout = 500 * time.Millisecond
	require.NoError(t, cfg.Validate())
	core, logs := observer.New(zapcore.InfoLevel)
	set := receivertest.NewNopSettings(metadata.Type)
	set.Logger = zap.New(core)
	s := newKafkaScraper(cfg, set)
	require.NoError(t, s.start(context.Background(), componenttest.NewNopHost()))
	require.Eventually(t, func() bool {
		_, owned := s.owner.Owned()
		return len(owned) == 1
	}, 20*time.Second, 10*time.Millisecond, "joined the group")

	// From now on the coordinator holds every LeaveGroup.
	release := make(chan struct{})
	defer close(release)
	c.Kfake.ControlKey(int16(kmsg.LeaveGroup), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.Kfake.KeepControl()
		c.Kfake.SleepControl(func() { <-release })
		return nil, nil, false
	})

	started := time.Now()
	require.NoError(t, s.shutdown(context.Background()))
	took := time.Since(started)
	t.Logf("shutdown took %s with a 60s session and a 500ms shutdown_timeout", took)
	assert.Less(t, took, 5*time.Second, "bounded by shutdown_timeout, not the session timeout")
	assert.Equal(t, 1, logs.FilterMessageSnippet("the leave was skipped").Len())
}

// A function read from two topics and two groups has one owner: two
// replicas never both own bindings of it, so one of them wakes it.
func TestReplicasOwnAFunctionWithAllItsBindings(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(1, "orders", "refunds"))
	c.Produce("orders", 0, 3)
	c.Produce("refunds", 0, 2)
	bindings := numberedBindings(8)
	bindings = append(bindings,
		BindingConfig{Topic: "orders", ConsumerGroup: "billing", Function: "billing"},
		BindingConfig{Topic: "refunds", ConsumerGroup: "billing", Function: "billing"},
		BindingConfig{Topic: "refunds", ConsumerGroup: "billing-audit", Function: "billing"},
	)
	billing := []int{8, 9, 10}
	a := startCoordinatedScraper(t, c, bindings, ReportAll)
	b := startCoordinatedScraper(t, c, bindings, ReportAll)
	t.Cleanup(func() {
		require.NoError(t, a.shutdown(context.Background()))
		require.NoError(t, b.shutdown(context.Background()))
	})
	owned := func(s *kafkaScraper) map[int]bool {
		_, indexes := s.owner.Owned()
		out := map[int]bool{}
		for _, i := range indexes {
			out[i] = true
		}
		return out
	}
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		oa, ob := owned(a), owned(b)
		assert.Len(ct, oa, len(bindings)-len(ob), "every binding has one owner")
		assert.NotEmpty(ct, oa)
		assert.NotEmpty(ct, ob)
		for i := range bindings {
			assert.NotEqual(ct, oa[i], ob[i], "binding %d owned by exactly one replica", i)
		}
	}, 20*time.Second, 50*time.Millisecond)
	oa := owned(a)
	for _, i := range billing {
		assert.Equal(t, oa[billing[0]], oa[i], "binding %d of billing owned by the same replica as its others", i)
	}

	// What each replica reports says the same: billing's three bindings
	// are owned by one of them.
	for _, s := range []*kafkaScraper{a, b} {
		md, err := s.scrape(c.Ctx())
		require.NoError(t, err)
		var flags []int64
		for _, rm := range md.ResourceMetrics().All() {
			for _, sm := range rm.ScopeMetrics().All() {
				for _, m := range sm.Metrics().All() {
					if m.Name() != ownedName {
						continue
					}
					for _, dp := range m.Gauge().DataPoints().All() {
						if fn, _ := dp.Attributes().Get("function"); fn.Str() == "billing" {
							flags = append(flags, dp.IntValue())
						}
					}
				}
			}
		}
		want := int64(0)
		if owned(s)[billing[0]] {
			want = 1
		}
		assert.Equal(t, []int64{want, want, want}, flags)
	}
}
