package slimfaaswakeprocessor

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	schema "github.com/kafkawake/kafkawake/internal/metadata"
	"github.com/kafkawake/kafkawake/internal/testclock"
	"github.com/kafkawake/kafkawake/processor/slimfaaswakeprocessor/internal/metadata"
)

// testStart is the fake clock's initial time, and so the processor's start time.
var testStart = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func newFakeClock() *testclock.Clock { return testclock.New(testStart) }

// testProcessor is a started processor with a fake clock and observed logs.
// Its retry delays take no real time: they advance the clock and are recorded.
type testProcessor struct {
	*wakeProcessor
	clock *testclock.Clock
	logs  *observer.ObservedLogs

	sleepsMu sync.Mutex
	sleeps   []time.Duration
}

// Sleeps returns the retry delays waited so far.
func (tp *testProcessor) Sleeps() []time.Duration {
	tp.sleepsMu.Lock()
	defer tp.sleepsMu.Unlock()
	return append([]time.Duration(nil), tp.sleeps...)
}

// newTestProcessor starts a processor on cfg and shuts it down at cleanup.
func newTestProcessor(t *testing.T, cfg *Config) *testProcessor {
	t.Helper()
	// Without jitter, retry delays are the exact backoff intervals.
	cfg.RetryOnFailure.RandomizationFactor = 0
	require.NoError(t, cfg.Validate())
	core, logs := observer.New(zapcore.DebugLevel)
	set := processortest.NewNopSettings(metadata.Type)
	set.Logger = zap.New(core)
	clock := newFakeClock()
	p := newWakeProcessor(cfg, set, clock.Now)
	tp := &testProcessor{wakeProcessor: p, clock: clock, logs: logs}
	p.sleep = func(ctx context.Context, d time.Duration) error {
		tp.sleepsMu.Lock()
		tp.sleeps = append(tp.sleeps, d)
		tp.sleepsMu.Unlock()
		clock.Advance(d)
		return ctx.Err()
	}
	require.NoError(t, p.start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, p.shutdown(context.Background())) })
	return tp
}

// configFor returns a valid default configuration calling endpoint.
func configFor(endpoint string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.ClientConfig.Endpoint = endpoint
	return cfg
}

// process runs one batch through the processor and returns its output.
func (tp *testProcessor) process(t *testing.T, md pmetric.Metrics) pmetric.Metrics {
	t.Helper()
	out, err := tp.processMetrics(context.Background(), md)
	require.NoError(t, err)
	return out
}

// waitForCalls waits until no wake call is in flight, so that every started
// call has recorded its result.
func (tp *testProcessor) waitForCalls(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool {
		tp.mu.Lock()
		defer tp.mu.Unlock()
		return !tp.bindings.functions.inFlight()
	}, 10*time.Second, time.Millisecond)
}

// bindingID names a binding of a test batch, whose resource is implied.
type bindingID struct {
	topic, group, function string
}

// resourceAttributes is the attributes of resource i of a test batch.
func resourceAttributes(i int) pcommon.Map {
	attrs := pcommon.NewMap()
	attrs.PutStr("service.instance.id", "collector-"+string(rune('0'+i)))
	return attrs
}

// lookup returns the processor's binding of id in resource r of a test
// batch, or nil if it remembers none.
func (tp *testProcessor) lookup(r int, id bindingID) *binding {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	resource := resourceIdentity(tp.bindings.seed, resourceAttributes(r))
	return tp.bindings.byKey[bindingKey{resource: resource, topic: id.topic, group: id.group, function: id.function}]
}

// point is one binding's values in a test batch; nil means no point.
type point struct {
	topic, group, function string
	pending, consumed      *int64
	// owned is the receiver's binding_owned point, for coordinated replicas.
	owned *int64
}

// ownedBy returns p with a binding_owned point: 1 when this replica owns
// the binding, 0 when another one does.
func (p point) ownedBy(thisReplica bool) point {
	var v int64
	if thisReplica {
		v = 1
	}
	p.owned = &v
	return p
}

func pendingPoint(topic, group, function string, pending int64) point {
	return point{topic: topic, group: group, function: function, pending: &pending}
}

func consumedPoint(topic, group, function string, consumed int64) point {
	return point{topic: topic, group: group, function: function, consumed: &consumed}
}

// batch builds metrics with one ResourceMetrics per group of points, shaped
// like the kafkawake receiver's output. Resource i has attribute
// service.instance.id = "collector-<i>".
func batch(resources ...[]point) pmetric.Metrics {
	md := pmetric.NewMetrics()
	ts := pcommon.NewTimestampFromTime(testStart)
	for i, points := range resources {
		rm := md.ResourceMetrics().AppendEmpty()
		resourceAttributes(i).CopyTo(rm.Resource().Attributes())
		sm := rm.ScopeMetrics().AppendEmpty()
		sm.Scope().SetName("kafkawake-test")
		pending := sm.Metrics().AppendEmpty()
		pending.SetName(schema.MetricsInfo.SlimfaaskafkaPendingMessages.Name)
		gauge := pending.SetEmptyGauge()
		consumed := sm.Metrics().AppendEmpty()
		consumed.SetName(schema.MetricsInfo.SlimfaaskafkaConsumedMessages.Name)
		sum := consumed.SetEmptySum()
		sum.SetIsMonotonic(true)
		sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		var owned pmetric.Gauge
		hasOwned := false
		for _, p := range points {
			if p.owned != nil {
				if !hasOwned {
					hasOwned = true
					m := sm.Metrics().AppendEmpty()
					m.SetName(schema.MetricsInfo.SlimfaaskafkaBindingOwned.Name)
					owned = m.SetEmptyGauge()
				}
				dp := owned.DataPoints().AppendEmpty()
				setBindingAttributes(dp.Attributes(), p.topic, p.group, p.function)
				dp.SetTimestamp(ts)
				dp.SetIntValue(*p.owned)
			}
			if p.pending != nil {
				dp := gauge.DataPoints().AppendEmpty()
				setBindingAttributes(dp.Attributes(), p.topic, p.group, p.function)
				dp.SetTimestamp(ts)
				dp.SetIntValue(*p.pending)
			}
			if p.consumed != nil {
				dp := sum.DataPoints().AppendEmpty()
				setBindingAttributes(dp.Attributes(), p.topic, p.group, p.function)
				dp.SetTimestamp(ts)
				dp.SetIntValue(*p.consumed)
			}
		}
	}
	return md
}

func setBindingAttributes(attrs pcommon.Map, topic, group, function string) {
	attrs.PutStr(topicKey, topic)
	attrs.PutStr(groupKey, group)
	attrs.PutStr(functionKey, function)
}

// counterID names one wake counter point in test expectations.
type counterID struct {
	metric, topic, group, function string
	reason                         schema.AttributeReason
}

func wakeups(topic, group, function string, reason schema.AttributeReason) counterID {
	return counterID{schema.MetricsInfo.SlimfaaskafkaWakeups.Name, topic, group, function, reason}
}

func failures(topic, group, function string, reason schema.AttributeReason) counterID {
	return counterID{schema.MetricsInfo.SlimfaaskafkaWakeFailures.Name, topic, group, function, reason}
}

// counters returns the wake counter points that the processor appended to
// resource r of md, failing the test on a malformed or duplicated point.
func counters(t *testing.T, md pmetric.Metrics, r int) map[counterID]int64 {
	t.Helper()
	got := make(map[counterID]int64)
	sms := md.ResourceMetrics().At(r).ScopeMetrics()
	for s := 0; s < sms.Len(); s++ {
		if sms.At(s).Scope().Name() != metadata.ScopeName {
			continue
		}
		metrics := sms.At(s).Metrics()
		for m := 0; m < metrics.Len(); m++ {
			metric := metrics.At(m)
			require.Equal(t, pmetric.MetricTypeSum, metric.Type(), metric.Name())
			require.True(t, metric.Sum().IsMonotonic())
			require.Equal(t, pmetric.AggregationTemporalityCumulative, metric.Sum().AggregationTemporality())
			dps := metric.Sum().DataPoints()
			for i := 0; i < dps.Len(); i++ {
				dp := dps.At(i)
				attrs := dp.Attributes()
				require.Equal(t, 4, attrs.Len(), "topic, group, function and reason only")
				str := func(key string) string {
					v, ok := attrs.Get(key)
					require.True(t, ok, key)
					return v.Str()
				}
				reasonKey := string(schema.SlimfaaskafkaWakeupsMetricAttributeKeyReason)
				reason, ok := schema.MapAttributeReason[str(reasonKey)]
				require.True(t, ok)
				id := counterID{metric.Name(), str(topicKey), str(groupKey), str(functionKey), reason}
				require.NotContains(t, got, id)
				got[id] = dp.IntValue()
			}
		}
	}
	return got
}

// zeroCounters is the counters of bindings never woken: every reason at 0.
func zeroCounters(bindings ...bindingID) map[counterID]int64 {
	want := make(map[counterID]int64)
	for _, b := range bindings {
		for _, reason := range reasons {
			want[wakeups(b.topic, b.group, b.function, reason)] = 0
			want[failures(b.topic, b.group, b.function, reason)] = 0
		}
	}
	return want
}

// withCounts returns base with the given counters changed.
func withCounts(base map[counterID]int64, changes map[counterID]int64) map[counterID]int64 {
	out := make(map[counterID]int64, len(base))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range changes {
		out[k] = v
	}
	return out
}

// loggedDecision names one logged decision: its outcome and, for a wake,
// what the processor did.
type loggedDecision struct {
	outcome, action string
}

func logged(o outcome, a wakeAction) loggedDecision { return loggedDecision{o.String(), a.String()} }

// Shorthands of the common logged decisions.
var (
	idle     = logged(outcomeIdle, actionNone)
	cooldown = logged(outcomeCooldown, actionNone)
	held     = logged(outcomeFunctionHeld, actionNone)
	inFlight = logged(outcomeInFlight, actionNone)
	called   = logged(outcomeWake, actionCalled)
	dryRun   = logged(outcomeWake, actionDryRun)
	mirrored = logged(outcomeWake, actionMirrored)
)

// decisions returns each logged decision, in order.
func decisions(logs *observer.ObservedLogs) []loggedDecision {
	var out []loggedDecision
	for _, entry := range logs.FilterMessage("Wake decision").All() {
		fields := entry.ContextMap()
		out = append(out, loggedDecision{fields["outcome"].(string), fields["action"].(string)})
	}
	return out
}
