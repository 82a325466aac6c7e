package slimfaaswakeprocessor // import "github.com/kafkawake/kafkawake/processor/slimfaaswakeprocessor"

import (
	"math"
	"slices"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	schema "github.com/kafkawake/kafkawake/internal/metadata"
)

// Attribute keys; every slimfaaskafka metric shares the binding's three.
var (
	topicKey    = string(schema.SlimfaaskafkaPendingMessagesMetricAttributeKeyTopic)
	groupKey    = string(schema.SlimfaaskafkaPendingMessagesMetricAttributeKeyGroup)
	functionKey = string(schema.SlimfaaskafkaPendingMessagesMetricAttributeKeyFunction)
	reasonKey   = string(schema.SlimfaaskafkaWakeupsMetricAttributeKeyReason)
)

// batchView is what the batch being processed says about one binding.
type batchView struct {
	// batch is the number of the batch the fields below belong to; an older
	// number means the binding is not in the current batch.
	batch uint64
	observation
	pendingTime  pcommon.Timestamp
	consumedTime pcommon.Timestamp
	// lastResource is the index of the last ResourceMetrics that listed the
	// binding, to list each binding once per resource.
	lastResource int
}

// bindingTable holds the processor's memory of every binding it has seen,
// and indexes the bindings of the batch being processed. The index reuses its
// slices from batch to batch, and points go straight to the binding they
// belong to, so that a batch costs one map lookup per point and no
// allocation once its bindings are known.
type bindingTable struct {
	byKey map[bindingKey]*binding
	batch uint64
	// observed lists the current batch's bindings in order of first
	// appearance, so that decisions and output do not depend on map
	// iteration order.
	observed []*binding
	// perResource lists, per ResourceMetrics index, the bindings it carried.
	perResource [][]*binding
}

func newBindingTable() bindingTable {
	return bindingTable{byKey: make(map[bindingKey]*binding)}
}

// collect reads the pending and consumed points of md into the bindings'
// views and indexes them. Points of the wrong type, without a numeric value,
// or without the three binding attributes are ignored. When a binding has
// several points of one metric in the batch, the most recent one wins.
func (t *bindingTable) collect(md pmetric.Metrics) {
	t.batch++
	t.observed = t.observed[:0]
	rms := md.ResourceMetrics()
	t.perResource = slices.Grow(t.perResource[:0], rms.Len())[:rms.Len()]
	for r := range t.perResource {
		t.perResource[r] = t.perResource[r][:0]
	}
	for r := 0; r < rms.Len(); r++ {
		sms := rms.At(r).ScopeMetrics()
		for s := 0; s < sms.Len(); s++ {
			metrics := sms.At(s).Metrics()
			for m := 0; m < metrics.Len(); m++ {
				metric := metrics.At(m)
				switch {
				case metric.Name() == schema.MetricsInfo.SlimfaaskafkaPendingMessages.Name && metric.Type() == pmetric.MetricTypeGauge:
					t.addPoints(r, metric.Gauge().DataPoints(), setPending)
				case metric.Name() == schema.MetricsInfo.SlimfaaskafkaConsumedMessages.Name && metric.Type() == pmetric.MetricTypeSum &&
					metric.Sum().AggregationTemporality() == pmetric.AggregationTemporalityCumulative:
					t.addPoints(r, metric.Sum().DataPoints(), setConsumed)
				}
			}
		}
	}
}

func setPending(v *batchView, value int64, ts pcommon.Timestamp) {
	if v.hasPending && ts < v.pendingTime {
		return
	}
	v.pending, v.hasPending, v.pendingTime = value, true, ts
}

func setConsumed(v *batchView, value int64, ts pcommon.Timestamp) {
	if v.hasConsumed && ts < v.consumedTime {
		return
	}
	v.consumed, v.hasConsumed, v.consumedTime = value, true, ts
}

func (t *bindingTable) addPoints(resource int, points pmetric.NumberDataPointSlice, set func(*batchView, int64, pcommon.Timestamp)) {
	for i := 0; i < points.Len(); i++ {
		point := points.At(i)
		key, ok := bindingOf(point.Attributes())
		if !ok || point.Flags().NoRecordedValue() {
			continue
		}
		value, ok := intValue(point)
		if !ok {
			continue
		}
		set(&t.observe(key, resource).seen, value, point.Timestamp())
	}
}

// observe returns the binding of key, creating it on its first observation,
// and lists it in the current batch and under the resource as needed.
func (t *bindingTable) observe(key bindingKey, resource int) *binding {
	b, ok := t.byKey[key]
	if !ok {
		b = newBinding(key)
		t.byKey[key] = b
	}
	if b.seen.batch != t.batch {
		b.seen = batchView{batch: t.batch, lastResource: -1}
		t.observed = append(t.observed, b)
	}
	if b.seen.lastResource != resource {
		b.seen.lastResource = resource
		t.perResource[resource] = append(t.perResource[resource], b)
	}
	return b
}

func bindingOf(attrs pcommon.Map) (bindingKey, bool) {
	topic, ok1 := stringAttribute(attrs, topicKey)
	group, ok2 := stringAttribute(attrs, groupKey)
	function, ok3 := stringAttribute(attrs, functionKey)
	return bindingKey{topic: topic, group: group, function: function}, ok1 && ok2 && ok3
}

func stringAttribute(attrs pcommon.Map, key string) (string, bool) {
	v, ok := attrs.Get(key)
	if !ok || v.Type() != pcommon.ValueTypeStr || v.Str() == "" {
		return "", false
	}
	return v.Str(), true
}

// intValue reads an int point, or a double one holding a finite value that
// fits in an int64.
func intValue(point pmetric.NumberDataPoint) (int64, bool) {
	switch point.ValueType() {
	case pmetric.NumberDataPointValueTypeInt:
		return point.IntValue(), true
	case pmetric.NumberDataPointValueTypeDouble:
		v := point.DoubleValue()
		if math.IsNaN(v) || v < math.MinInt64 || v >= math.MaxInt64 {
			return 0, false
		}
		return int64(v), true
	}
	return 0, false
}
