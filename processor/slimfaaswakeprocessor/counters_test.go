package slimfaaswakeprocessor

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	schema "github.com/kafkawake/kafkawake/internal/metadata"
	"github.com/kafkawake/kafkawake/processor/slimfaaswakeprocessor/internal/metadata"
)

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
