package slimfaaswakeprocessor

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"

	schema "github.com/kafkawake/kafkawake/internal/metadata"
	"github.com/kafkawake/kafkawake/processor/slimfaaswakeprocessor/internal/metadata"
)

// unreachableEndpoint is never called: the tests using it make no wake call.
const unreachableEndpoint = "http://127.0.0.1:1"

func dryRunConfig() *Config {
	cfg := configFor(unreachableEndpoint)
	cfg.DryRun = true
	return cfg
}

func TestDryRunCountsAndHonoursCooldown(t *testing.T) {
	cfg := dryRunConfig()
	cfg.Functions = map[string]WakeRuleOverrides{"fibonaccilistener": {Cooldown: ptr(10 * time.Second)}}
	tp := newTestProcessor(t, cfg)
	key := bindingID{"fibo-public", "fibonacci-listener-group", "fibonaccilistener"}
	pendingWakes := wakeups(key.topic, key.group, key.function, schema.AttributeReasonPending)
	pending := func() pmetric.Metrics {
		return batch([]point{pendingPoint(key.topic, key.group, key.function, 3)})
	}

	out := tp.process(t, pending())
	assert.Equal(t, withCounts(zeroCounters(key), map[counterID]int64{pendingWakes: 1}), counters(t, out, 0),
		"a dry-run wake counts in the batch that decided it")

	tp.clock.Advance(9 * time.Second)
	out = tp.process(t, pending())
	assert.Equal(t, int64(1), counters(t, out, 0)[pendingWakes], "still in the function's 10s cooldown")

	tp.clock.Advance(time.Second)
	out = tp.process(t, pending())
	assert.Equal(t, int64(2), counters(t, out, 0)[pendingWakes], "woken again when the cooldown ends")

	assert.Equal(t, []loggedDecision{dryRun, cooldown, dryRun}, decisions(tp.logs))
	wouldBe := tp.logs.FilterMessage("Dry run: would wake function").All()
	require.Len(t, wouldBe, 2)
	assert.Equal(t, "http://127.0.0.1:1/wake-function/fibonaccilistener", wouldBe[0].ContextMap()["url"])
	assert.Equal(t, "POST", wouldBe[0].ContextMap()["method"])
}

func TestActivityKeepsFunctionAwake(t *testing.T) {
	cfg := dryRunConfig()
	cfg.Defaults.Cooldown = 10 * time.Second
	cfg.Defaults.ActivityKeepAlive = 25 * time.Second
	tp := newTestProcessor(t, cfg)
	key := bindingID{"t", "g", "f"}
	observe := func(consumed int64) map[counterID]int64 {
		return counters(t, tp.process(t, batch([]point{consumedPoint(key.topic, key.group, key.function, consumed)})), 0)
	}

	assert.Equal(t, zeroCounters(key), observe(100), "first observation is a baseline")
	tp.clock.Advance(2 * time.Second)
	got := observe(150)
	assert.Equal(t, int64(1), got[wakeups("t", "g", "f", schema.AttributeReasonActivity)])
	// Consumption stops; the function stays awake for the keep-alive only.
	for range 3 {
		tp.clock.Advance(10 * time.Second)
		got = observe(150)
	}
	assert.Equal(t, int64(3), got[wakeups("t", "g", "f", schema.AttributeReasonActivity)],
		"woken at +2s, +12s, +22s; at +32s the last activity is 30s old")
	assert.Equal(t, []loggedDecision{idle, dryRun, dryRun, dryRun, idle}, decisions(tp.logs))
}

func TestDecisionLogCarriesInputs(t *testing.T) {
	tp := newTestProcessor(t, dryRunConfig())
	tp.process(t, batch([]point{pendingPoint("t", "g", "f", 7)}))

	entries := tp.logs.FilterMessage("Wake decision").All()
	require.Len(t, entries, 1)
	fields := entries[0].ContextMap()
	assert.Equal(t, "t", fields[topicKey])
	assert.Equal(t, "g", fields[groupKey])
	assert.Equal(t, "f", fields[functionKey])
	assert.Equal(t, int64(7), fields["pending"])
	assert.Equal(t, int64(0), fields["consumed_delta"])
	assert.Equal(t, time.Duration(0), fields["cooldown_left"])
	assert.Equal(t, schema.AttributeReasonPending.String(), fields["reason"])
	assert.Equal(t, "wake", fields["outcome"])
	assert.Equal(t, "dry_run", fields["action"])
	assert.Contains(t, fields, "last_activity")
}

func TestFactoryProcessorInPipeline(t *testing.T) {
	cfg := dryRunConfig()
	sink := new(consumertest.MetricsSink)
	p, err := NewFactory().CreateMetrics(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, sink)
	require.NoError(t, err)
	assert.True(t, p.Capabilities().MutatesData)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))

	require.NoError(t, p.ConsumeMetrics(context.Background(), batch([]point{pendingPoint("t", "g", "f", 1)})))
	require.NoError(t, p.Shutdown(context.Background()))

	require.Len(t, sink.AllMetrics(), 1)
	got := counters(t, sink.AllMetrics()[0], 0)
	assert.Equal(t, int64(1), got[wakeups("t", "g", "f", schema.AttributeReasonPending)])
}

func TestStartFailsOnBadTLS(t *testing.T) {
	cfg := configFor("https://slimfaas:5000")
	cfg.ClientConfig.TLS.CAFile = "testdata/does-not-exist.pem"
	p := newWakeProcessor(cfg, processortest.NewNopSettings(metadata.Type), time.Now)
	err := p.start(context.Background(), componenttest.NewNopHost())
	require.ErrorContains(t, err, "slimfaaswake start: create HTTP client for https://slimfaas:5000")
	require.NoError(t, p.shutdown(context.Background()))
}

// withStatus adds the receiver's binding_status points of one binding to
// resource 0 of md: status at 1, every other status at 0.
func withStatus(md pmetric.Metrics, id bindingID, status string) pmetric.Metrics {
	m := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().AppendEmpty()
	m.SetName(schema.MetricsInfo.SlimfaaskafkaBindingStatus.Name)
	points := m.SetEmptyGauge().DataPoints()
	for _, s := range []string{"error", "stalled", "waiting", "falling_behind", "draining", "idle"} {
		dp := points.AppendEmpty()
		setBindingAttributes(dp.Attributes(), id.topic, id.group, id.function)
		dp.Attributes().PutStr(statusKey, s)
		if s == status {
			dp.SetIntValue(1)
		}
	}
	return md
}

func TestDecisionLogNamesTheBindingsStatus(t *testing.T) {
	tp := newTestProcessor(t, dryRunConfig())
	f := bindingID{"t", "g", "f"}
	tp.process(t, withStatus(batch([]point{pendingPoint("t", "g", "f", 7)}), f, "waiting"))

	decision := tp.logs.FilterMessage("Wake decision").All()
	require.Len(t, decision, 1)
	assert.Equal(t, "waiting", decision[0].ContextMap()["status"])
	dryRun := tp.logs.FilterMessage("Dry run: would wake function").All()
	require.Len(t, dryRun, 1)
	assert.Equal(t, "waiting", dryRun[0].ContextMap()["status"])
}

// An unreadable binding has only its status (error): it is no binding
// input, so nothing is decided, counted or woken for it.
func TestAStatusAloneMakesNoBinding(t *testing.T) {
	tp := newTestProcessor(t, dryRunConfig())
	out := tp.process(t, withStatus(batch([]point{}), bindingID{"t", "g", "f"}, "error"))
	assert.Empty(t, tp.bindings.byKey)
	assert.Empty(t, tp.logs.FilterMessage("Wake decision").All())
	assert.Equal(t, 3, out.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().Len(), "the input passes through, with no counters added")
}
