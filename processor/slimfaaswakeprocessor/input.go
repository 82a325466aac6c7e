package slimfaaswakeprocessor // import "github.com/kafkawake/kafkawake/processor/slimfaaswakeprocessor"

import (
	"math"

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

// observedBinding accumulates one batch's points for a binding.
type observedBinding struct {
	key bindingKey
	observation
	pendingTime  pcommon.Timestamp
	consumedTime pcommon.Timestamp
	// lastResource is the index of the last ResourceMetrics that listed the
	// binding, to list each binding once per resource.
	lastResource int
}

// batchObservations is what one input batch says about all its bindings.
type batchObservations struct {
	// bindings holds one entry per binding in order of first appearance, so
	// that decisions and output do not depend on map iteration order; index
	// finds a binding's entry.
	bindings []observedBinding
	index    map[bindingKey]int
	// perResource lists, per ResourceMetrics index, the positions in
	// bindings of the bindings it carried.
	perResource [][]int
}

// collectObservations reads the pending and consumed points of md. Points of
// the wrong type, without a numeric value, or without the three binding
// attributes are ignored. When a binding has several points of one metric in
// the batch, the most recent one wins.
func collectObservations(md pmetric.Metrics) batchObservations {
	var batch batchObservations
	rms := md.ResourceMetrics()
	for r := 0; r < rms.Len(); r++ {
		sms := rms.At(r).ScopeMetrics()
		for s := 0; s < sms.Len(); s++ {
			metrics := sms.At(s).Metrics()
			for m := 0; m < metrics.Len(); m++ {
				metric := metrics.At(m)
				switch {
				case metric.Name() == schema.MetricsInfo.SlimfaaskafkaPendingMessages.Name && metric.Type() == pmetric.MetricTypeGauge:
					batch.addPoints(r, rms.Len(), metric.Gauge().DataPoints(), setPending)
				case metric.Name() == schema.MetricsInfo.SlimfaaskafkaConsumedMessages.Name && metric.Type() == pmetric.MetricTypeSum &&
					metric.Sum().AggregationTemporality() == pmetric.AggregationTemporalityCumulative:
					batch.addPoints(r, rms.Len(), metric.Sum().DataPoints(), setConsumed)
				}
			}
		}
	}
	return batch
}

func setPending(o *observedBinding, value int64, ts pcommon.Timestamp) {
	if o.hasPending && ts < o.pendingTime {
		return
	}
	o.pending, o.hasPending, o.pendingTime = value, true, ts
}

func setConsumed(o *observedBinding, value int64, ts pcommon.Timestamp) {
	if o.hasConsumed && ts < o.consumedTime {
		return
	}
	o.consumed, o.hasConsumed, o.consumedTime = value, true, ts
}

func (b *batchObservations) addPoints(resource, resources int, points pmetric.NumberDataPointSlice, set func(*observedBinding, int64, pcommon.Timestamp)) {
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
		set(b.observe(key, resource, resources), value, point.Timestamp())
	}
}

// observe returns the binding's entry, creating it and listing it under the
// resource as needed.
func (b *batchObservations) observe(key bindingKey, resource, resources int) *observedBinding {
	if b.index == nil {
		b.index = make(map[bindingKey]int)
		b.perResource = make([][]int, resources)
	}
	i, ok := b.index[key]
	if !ok {
		i = len(b.bindings)
		b.index[key] = i
		b.bindings = append(b.bindings, observedBinding{key: key, lastResource: -1})
	}
	o := &b.bindings[i]
	if o.lastResource != resource {
		o.lastResource = resource
		b.perResource[resource] = append(b.perResource[resource], i)
	}
	return o
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
