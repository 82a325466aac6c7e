package slimfaaswakeprocessor

import (
	"context"
	"fmt"
	"hash/maphash"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
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

func TestCountersStartAtZeroInTheInputResource(t *testing.T) {
	tp := newTestProcessor(t, dryRunConfig())
	a := bindingID{"orders", "orders-group", "orders-fn"}
	b := bindingID{"fibo-public", "fibonacci-listener-group", "fibonaccilistener"}

	in := batch(
		[]point{pendingPoint(a.topic, a.group, a.function, 0), consumedPoint(a.topic, a.group, a.function, 10)},
		[]point{pendingPoint(b.topic, b.group, b.function, 0)},
	)
	out := tp.process(t, in)

	require.Equal(t, 2, out.ResourceMetrics().Len())
	for r, key := range []bindingID{a, b} {
		rm := out.ResourceMetrics().At(r)
		require.Equal(t, 2, rm.ScopeMetrics().Len(), "input scope plus the wake counters")
		assert.Equal(t, "kafkawake-test", rm.ScopeMetrics().At(0).Scope().Name())
		assert.Equal(t, 2, rm.ScopeMetrics().At(0).Metrics().Len(), "input metrics untouched")
		assert.Equal(t, metadata.ScopeName, rm.ScopeMetrics().At(1).Scope().Name())
		assert.Equal(t, zeroCounters(key), counters(t, out, r))
		for m := 0; m < rm.ScopeMetrics().At(1).Metrics().Len(); m++ {
			metric := rm.ScopeMetrics().At(1).Metrics().At(m)
			assert.True(t, metric.Sum().IsMonotonic(), metric.Name())
			assert.Equal(t, pmetric.AggregationTemporalityCumulative, metric.Sum().AggregationTemporality(), metric.Name())
			assert.NotEmpty(t, metric.Description(), metric.Name())
			dp := metric.Sum().DataPoints().At(0)
			assert.Equal(t, pcommon.NewTimestampFromTime(testStart), dp.StartTimestamp(), "processor start")
			assert.Equal(t, pcommon.NewTimestampFromTime(testStart), dp.Timestamp())
		}
	}
}

func TestManyBindingsInOneResource(t *testing.T) {
	tp := newTestProcessor(t, dryRunConfig())
	const count = 13
	var points []point
	var keys []bindingID
	changes := make(map[counterID]int64)
	for i := range count {
		key := bindingID{"t", "g", fmt.Sprintf("fn-%d", i)}
		keys = append(keys, key)
		// Every other binding is pending, and so woken.
		points = append(points, pendingPoint(key.topic, key.group, key.function, int64(i%2)))
		if i%2 == 1 {
			changes[wakeups(key.topic, key.group, key.function, schema.AttributeReasonPending)] = 1
		}
	}

	out := tp.process(t, batch(points))

	require.Equal(t, 2, out.ResourceMetrics().At(0).ScopeMetrics().Len(), "one scope for all the counters")
	assert.Equal(t, withCounts(zeroCounters(keys...), changes), counters(t, out, 0))
}

// Two ResourceMetrics with the same attributes are one resource: a binding
// split between them is one binding, its counters in each.
func TestBindingInTwoCopiesOfOneResourceIsCountedInEach(t *testing.T) {
	tp := newTestProcessor(t, dryRunConfig())
	a := bindingID{"orders", "orders-group", "orders-fn"}
	md := batch(
		[]point{pendingPoint(a.topic, a.group, a.function, 4)},
		[]point{consumedPoint(a.topic, a.group, a.function, 10)},
	)
	// The same attributes in another order are the same resource.
	attrs := md.ResourceMetrics().At(0).Resource().Attributes()
	attrs.PutStr("host.name", "node-1")
	second := md.ResourceMetrics().At(1).Resource().Attributes()
	second.Clear()
	second.PutStr("host.name", "node-1")
	second.PutStr("service.instance.id", "collector-0")
	out := tp.process(t, md)

	// One decision for the batch, one wake, reported in both resources.
	assert.Equal(t, []loggedDecision{dryRun}, decisions(tp.logs))
	want := withCounts(zeroCounters(a), map[counterID]int64{wakeups(a.topic, a.group, a.function, schema.AttributeReasonPending): 1})
	assert.Equal(t, want, counters(t, out, 0))
	assert.Equal(t, want, counters(t, out, 1))
}

// Two sources (two clusters, two agents) reporting the same triple with
// their own cumulative consumed counts are two bindings: the counts never
// mix, so alternating values are no consumption, and each resource carries
// its own counters.
func TestSameTripleOnTwoResourcesKeepsApart(t *testing.T) {
	cfg := dryRunConfig()
	cfg.Defaults.Cooldown = 0
	tp := newTestProcessor(t, cfg)
	a := bindingID{"orders", "orders-group", "shop"}
	for range 6 {
		out := tp.process(t, batch(
			[]point{consumedPoint(a.topic, a.group, a.function, 1000)},
			[]point{consumedPoint(a.topic, a.group, a.function, 50)},
		))
		assert.Equal(t, zeroCounters(a), counters(t, out, 0))
		assert.Equal(t, zeroCounters(a), counters(t, out, 1))
		tp.clock.Advance(2 * time.Second)
	}
	for _, d := range decisions(tp.logs) {
		assert.Equal(t, idle, d, "the counts of each source stay flat")
	}

	// Only the source that consumes wakes, and counts it on its resource.
	out := tp.process(t, batch(
		[]point{consumedPoint(a.topic, a.group, a.function, 1000)},
		[]point{consumedPoint(a.topic, a.group, a.function, 60)},
	))
	assert.Equal(t, zeroCounters(a), counters(t, out, 0))
	assert.Equal(t, withCounts(zeroCounters(a), map[counterID]int64{
		wakeups(a.topic, a.group, a.function, schema.AttributeReasonActivity): 1,
	}), counters(t, out, 1))
}

func TestResourceIdentity(t *testing.T) {
	seed := maphash.MakeSeed()
	id := func(build func(pcommon.Map)) resourceID {
		attrs := pcommon.NewMap()
		build(attrs)
		return resourceIdentity(seed, attrs)
	}
	base := id(func(m pcommon.Map) { m.PutStr("kafka.cluster.alias", "eu"); m.PutInt("n", 1) })
	assert.Equal(t, base, id(func(m pcommon.Map) { m.PutInt("n", 1); m.PutStr("kafka.cluster.alias", "eu") }), "order does not matter")
	for name, build := range map[string]func(pcommon.Map){
		"other value":      func(m pcommon.Map) { m.PutStr("kafka.cluster.alias", "us"); m.PutInt("n", 1) },
		"other value type": func(m pcommon.Map) { m.PutStr("kafka.cluster.alias", "eu"); m.PutStr("n", "1") },
		"one more":         func(m pcommon.Map) { m.PutStr("kafka.cluster.alias", "eu"); m.PutInt("n", 1); m.PutBool("b", false) },
		"one less":         func(m pcommon.Map) { m.PutStr("kafka.cluster.alias", "eu") },
		"key and value run together": func(m pcommon.Map) {
			m.PutStr("kafka.cluster.aliase", "u")
			m.PutInt("n", 1)
		},
		"nested": func(m pcommon.Map) {
			m.PutEmptyMap("kafka.cluster.alias").PutStr("eu", "")
			m.PutInt("n", 1)
		},
	} {
		assert.NotEqual(t, base, id(build), name)
	}
	slice := func(items ...string) func(pcommon.Map) {
		return func(m pcommon.Map) {
			s := m.PutEmptySlice("s")
			for _, item := range items {
				s.AppendEmpty().SetStr(item)
			}
		}
	}
	assert.NotEqual(t, id(slice("ab")), id(slice("a", "b")))
	assert.NotEqual(t, id(slice("a", "b")), id(slice("b", "a")), "a slice is ordered")
	assert.Equal(t, id(slice("a", "b")), id(slice("a", "b")))
}

// The processor reuses its batch index from batch to batch: each batch must
// get the counters of its own bindings, in its own resources, only.
func TestEachBatchCountsOnlyItsOwnBindings(t *testing.T) {
	tp := newTestProcessor(t, dryRunConfig())
	a := bindingID{"orders", "orders-group", "orders-fn"}
	b := bindingID{"payments", "payments-group", "payments-fn"}
	wokenA := withCounts(zeroCounters(a), map[counterID]int64{wakeups(a.topic, a.group, a.function, schema.AttributeReasonPending): 1})

	out := tp.process(t, batch(
		[]point{pendingPoint(a.topic, a.group, a.function, 4), pendingPoint(b.topic, b.group, b.function, 0)},
		[]point{pendingPoint(b.topic, b.group, b.function, 0)},
	))
	assert.Equal(t, withCounts(wokenA, zeroCounters(b)), counters(t, out, 0))
	assert.Equal(t, zeroCounters(b), counters(t, out, 1))

	out = tp.process(t, batch([]point{pendingPoint(b.topic, b.group, b.function, 0)}))
	require.Equal(t, 1, out.ResourceMetrics().Len())
	assert.Equal(t, zeroCounters(b), counters(t, out, 0))

	// a comes back, in the second resource only, with its count kept.
	out = tp.process(t, batch(
		[]point{pendingPoint(b.topic, b.group, b.function, 0)},
		[]point{pendingPoint(a.topic, a.group, a.function, 4)},
	))
	assert.Equal(t, zeroCounters(b), counters(t, out, 0))
	assert.Equal(t, wokenA, counters(t, out, 1))
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

func TestInputPointSelection(t *testing.T) {
	key := bindingID{"t", "g", "f"}
	pendingWakes := wakeups("t", "g", "f", schema.AttributeReasonPending)

	t.Run("double pending value", func(t *testing.T) {
		tp := newTestProcessor(t, dryRunConfig())
		md := batch([]point{pendingPoint("t", "g", "f", 0)})
		md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Gauge().DataPoints().At(0).SetDoubleValue(2.0)
		assert.Equal(t, int64(1), counters(t, tp.process(t, md), 0)[pendingWakes])
	})

	t.Run("most recent duplicate wins", func(t *testing.T) {
		tp := newTestProcessor(t, dryRunConfig())
		md := batch([]point{pendingPoint("t", "g", "f", 0), pendingPoint("t", "g", "f", 9), pendingPoint("t", "g", "f", 0)})
		dps := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Gauge().DataPoints()
		// The point saying 9 is the newest, though not the last.
		dps.At(1).SetTimestamp(dps.At(0).Timestamp() + 1)
		got := counters(t, tp.process(t, md), 0)
		assert.Equal(t, withCounts(zeroCounters(key), map[counterID]int64{pendingWakes: 1}), got)
	})

	t.Run("duplicate consumed points make one delta", func(t *testing.T) {
		tp := newTestProcessor(t, dryRunConfig())
		tp.process(t, batch([]point{consumedPoint("t", "g", "f", 10)}))
		tp.process(t, batch([]point{consumedPoint("t", "g", "f", 10), consumedPoint("t", "g", "f", 10)}))
		assert.Equal(t, []loggedDecision{idle, idle}, decisions(tp.logs))
	})
}

func TestInputWithoutBindingsPassesThroughUntouched(t *testing.T) {
	pendingName := schema.MetricsInfo.SlimfaaskafkaPendingMessages.Name
	consumedName := schema.MetricsInfo.SlimfaaskafkaConsumedMessages.Name
	firstPoint := func(md pmetric.Metrics, metric int) pmetric.NumberDataPoint {
		m := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(metric)
		if m.Type() == pmetric.MetricTypeGauge {
			return m.Gauge().DataPoints().At(0)
		}
		return m.Sum().DataPoints().At(0)
	}
	valid := func() pmetric.Metrics {
		return batch([]point{pendingPoint("t", "g", "f", 5), consumedPoint("t", "g", "f", 5)})
	}

	tests := []struct {
		name  string
		input func() pmetric.Metrics
	}{
		{"empty", pmetric.NewMetrics},
		{"resource without scopes", func() pmetric.Metrics {
			md := pmetric.NewMetrics()
			md.ResourceMetrics().AppendEmpty()
			return md
		}},
		{"other metrics", func() pmetric.Metrics {
			md := pmetric.NewMetrics()
			m := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
			m.SetName("kafka.consumer_group.lag")
			dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
			setBindingAttributes(dp.Attributes(), "t", "g", "f")
			dp.SetIntValue(5)
			return md
		}},
		{"pending as a sum, consumed as a gauge", func() pmetric.Metrics {
			md := pmetric.NewMetrics()
			metrics := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics()
			pending := metrics.AppendEmpty()
			pending.SetName(pendingName)
			setBindingAttributes(pending.SetEmptySum().DataPoints().AppendEmpty().Attributes(), "t", "g", "f")
			consumed := metrics.AppendEmpty()
			consumed.SetName(consumedName)
			setBindingAttributes(consumed.SetEmptyGauge().DataPoints().AppendEmpty().Attributes(), "t", "g", "f")
			return md
		}},
		{"histogram named like pending", func() pmetric.Metrics {
			md := pmetric.NewMetrics()
			m := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
			m.SetName(pendingName)
			setBindingAttributes(m.SetEmptyHistogram().DataPoints().AppendEmpty().Attributes(), "t", "g", "f")
			return md
		}},
		{"delta consumed sum", func() pmetric.Metrics {
			md := batch([]point{consumedPoint("t", "g", "f", 5)})
			md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(1).Sum().SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
			return md
		}},
		{"missing function attribute", func() pmetric.Metrics {
			md := valid()
			firstPoint(md, 0).Attributes().Remove(functionKey)
			firstPoint(md, 1).Attributes().Remove(functionKey)
			return md
		}},
		{"empty topic attribute", func() pmetric.Metrics {
			md := valid()
			firstPoint(md, 0).Attributes().PutStr(topicKey, "")
			firstPoint(md, 1).Attributes().PutStr(topicKey, "")
			return md
		}},
		{"non-string group attribute", func() pmetric.Metrics {
			md := valid()
			firstPoint(md, 0).Attributes().PutInt(groupKey, 7)
			firstPoint(md, 1).Attributes().PutInt(groupKey, 7)
			return md
		}},
		{"points without value", func() pmetric.Metrics {
			md := pmetric.NewMetrics()
			metrics := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics()
			pending := metrics.AppendEmpty()
			pending.SetName(pendingName)
			setBindingAttributes(pending.SetEmptyGauge().DataPoints().AppendEmpty().Attributes(), "t", "g", "f")
			return md
		}},
		{"no recorded value flag", func() pmetric.Metrics {
			md := valid()
			firstPoint(md, 0).SetFlags(pmetric.DefaultDataPointFlags.WithNoRecordedValue(true))
			firstPoint(md, 1).SetFlags(pmetric.DefaultDataPointFlags.WithNoRecordedValue(true))
			return md
		}},
		{"not a number", func() pmetric.Metrics {
			md := valid()
			firstPoint(md, 0).SetDoubleValue(math.NaN())
			firstPoint(md, 1).SetDoubleValue(1e300)
			return md
		}},
	}
	marshaler := &pmetric.JSONMarshaler{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := newTestProcessor(t, configFor(unreachableEndpoint))
			want, err := marshaler.MarshalMetrics(tt.input())
			require.NoError(t, err)

			out := tp.process(t, tt.input())

			got, err := marshaler.MarshalMetrics(out)
			require.NoError(t, err)
			assert.JSONEq(t, string(want), string(got))
			assert.Empty(t, tp.bindings.byKey)
		})
	}
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

// A binding absent from the input for longer than binding_expiry is
// forgotten: its counters are no longer emitted, and when it comes back it
// starts like a new binding, with a consumed baseline (no wake for what it
// consumed meanwhile) and counters from 0 with a new start time.
func TestBindingExpiry(t *testing.T) {
	const expiry = 5 * time.Minute
	a := bindingID{"orders", "orders-group", "shop"}
	b := bindingID{"payments", "payments-group", "pay"}
	woken := withCounts(zeroCounters(a), map[counterID]int64{wakeups(a.topic, a.group, a.function, schema.AttributeReasonPending): 1})
	tests := []struct {
		name          string
		absent        time.Duration
		wantForgotten bool
	}{
		{"back within the expiry", expiry - time.Second, false},
		{"back exactly at the expiry", expiry, false},
		{"back just after the expiry", expiry + time.Nanosecond, true},
		{"back much later", 24 * time.Hour, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := dryRunConfig()
			cfg.BindingExpiry = expiry
			cfg.Defaults.Cooldown = time.Hour
			tp := newTestProcessor(t, cfg)

			out := tp.process(t, batch([]point{pendingPoint(a.topic, a.group, a.function, 1), consumedPoint(a.topic, a.group, a.function, 100)}))
			assert.Equal(t, woken, counters(t, out, 0))

			// Another replica takes a over; this one still sees b.
			tp.clock.Advance(tt.absent / 2)
			out = tp.process(t, batch([]point{pendingPoint(b.topic, b.group, b.function, 0)}))
			assert.Equal(t, zeroCounters(b), counters(t, out, 0), "no counters of an absent binding")
			tp.clock.Advance(tt.absent - tt.absent/2)

			out = tp.process(t, batch([]point{pendingPoint(a.topic, a.group, a.function, 0), consumedPoint(a.topic, a.group, a.function, 900)}))
			back := tp.clock.Now()
			startOf := func() pcommon.Timestamp {
				for _, sm := range out.ResourceMetrics().At(0).ScopeMetrics().All() {
					if sm.Scope().Name() == metadata.ScopeName {
						return sm.Metrics().At(0).Sum().DataPoints().At(0).StartTimestamp()
					}
				}
				return 0
			}
			if tt.wantForgotten {
				assert.Equal(t, zeroCounters(a), counters(t, out, 0), "counters restart at 0")
				assert.Equal(t, pcommon.NewTimestampFromTime(back), startOf())
				assert.Equal(t, []loggedDecision{dryRun, idle, idle}, decisions(tp.logs), "900 is a new baseline, not activity")
			} else {
				assert.Equal(t, woken, counters(t, out, 0))
				assert.Equal(t, pcommon.NewTimestampFromTime(testStart), startOf())
				assert.Equal(t, []loggedDecision{dryRun, idle, cooldown}, decisions(tp.logs), "800 consumed is activity, in cooldown")
			}
		})
	}
}

// A wake call of a binding forgotten while it runs records nothing on the
// binding and is not retried; the binding, when back, starts anew.
func TestCallOfForgottenBindingIsIgnored(t *testing.T) {
	release := make(chan struct{})
	slimfaas := newFakeSlimFaas(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 0 {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	cfg := configFor(slimfaas.URL)
	cfg.BindingExpiry = time.Minute
	tp := newTestProcessor(t, cfg)
	a := bindingID{"orders", "orders-group", "shop"}
	pending := batch([]point{pendingPoint(a.topic, a.group, a.function, 1)})

	tp.process(t, pending)
	require.Eventually(t, func() bool { return len(slimfaas.Requests()) == 1 }, 10*time.Second, time.Millisecond)
	tp.clock.Advance(time.Minute + time.Second)
	tp.process(t, batch([]point{pendingPoint("other", "g", "other-fn", 0)}))
	require.Nil(t, tp.lookup(0, a), "forgotten")
	close(release)
	tp.waitForCalls(t)

	assert.Empty(t, tp.Sleeps(), "not retried")
	assert.Len(t, slimfaas.Requests(), 1)
	failed := tp.logs.FilterMessage("Wake attempt failed").All()
	require.Len(t, failed, 1)
	assert.Equal(t, false, failed[0].ContextMap()["retrying"])
	assert.Nil(t, tp.lookup(0, a), "the result did not bring the binding back")

	out := tp.process(t, batch([]point{pendingPoint(a.topic, a.group, a.function, 1)}))
	assert.Equal(t, zeroCounters(a), counters(t, out, 0), "the failure counted on no binding")
	tp.waitForCalls(t)
	assert.Len(t, slimfaas.Requests(), 2, "a 500 holds nothing: the returning binding calls at once")
}

// Forgotten bindings and idle functions leave memory within a quarter of the
// expiry after they are forgotten.
func TestSweepFreesForgottenBindings(t *testing.T) {
	slimfaas := newFakeSlimFaas(t, answerScript(scripted{status: http.StatusTooManyRequests, retryAfter: "60"}))
	cfg := configFor(slimfaas.URL)
	cfg.BindingExpiry = 4 * time.Minute
	tp := newTestProcessor(t, cfg)
	a := bindingID{"orders", "orders-group", "shop"}
	b := bindingID{"payments", "payments-group", "pay"}
	size := func() (bindings, functions int) {
		tp.mu.Lock()
		defer tp.mu.Unlock()
		return len(tp.bindings.byKey), len(tp.bindings.functions)
	}

	tp.process(t, batch([]point{pendingPoint(a.topic, a.group, a.function, 1)}))
	tp.waitForCalls(t)
	bindings, functions := size()
	assert.Equal(t, []int{1, 1}, []int{bindings, functions}, "a, and shop held for 60s")

	tp.clock.Advance(4*time.Minute + time.Second)
	tp.process(t, batch([]point{pendingPoint(b.topic, b.group, b.function, 0)}))
	bindings, functions = size()
	assert.Equal(t, []int{1, 0}, []int{bindings, functions}, "only b")
	assert.Nil(t, tp.lookup(0, a))
}
