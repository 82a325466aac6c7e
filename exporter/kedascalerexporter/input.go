package kedascalerexporter // import "github.com/kafkawake/kafkawake/exporter/kedascalerexporter"

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	schema "github.com/kafkawake/kafkawake/internal/metadata"

	"github.com/kafkawake/kafkawake/exporter/kedascalerexporter/internal/scalerstate"
)

// Attribute keys of the shared schema; every slimfaaskafka metric carries
// the binding's three.
var (
	topicKey    = string(schema.SlimfaaskafkaPendingMessagesMetricAttributeKeyTopic)
	groupKey    = string(schema.SlimfaaskafkaPendingMessagesMetricAttributeKeyGroup)
	functionKey = string(schema.SlimfaaskafkaPendingMessagesMetricAttributeKeyFunction)
	// clusterAliasKey is the schema's resource attribute naming the cluster;
	// the schema generates no constant for it, so it is read off a resource
	// its builder makes.
	clusterAliasKey = func() string {
		rb := schema.NewResourceBuilder(schema.DefaultResourceAttributesConfig())
		rb.SetKafkaClusterAlias("")
		var key string
		rb.Emit().Attributes().Range(func(k string, _ pcommon.Value) bool {
			key = k
			return false
		})
		return key
	}()
)

// statusAttribute is the binding_status attribute holding the status.
var statusAttribute = string(schema.SlimfaaskafkaBindingStatusMetricAttributeKeyStatus)

// gaugeKinds maps the gauge metrics the exporter reads to what they say.
var gaugeKinds = map[string]scalerstate.Kind{
	schema.MetricsInfo.SlimfaaskafkaPendingMessages.Name:       scalerstate.Pending,
	schema.MetricsInfo.SlimfaaskafkaPendingAge.Name:            scalerstate.Age,
	schema.MetricsInfo.SlimfaaskafkaLastActivityTimestamp.Name: scalerstate.LastActivity,
	schema.MetricsInfo.SlimfaaskafkaDesiredReplicas.Name:       scalerstate.Desired,
	schema.MetricsInfo.SlimfaaskafkaBindingStatus.Name:         scalerstate.Status,
}

// readPoints appends to points what md says about each binding. Points
// without the three binding attributes or without a numeric value, metrics
// of another type, and binding_status points other than the current status
// (value 1) are skipped.
func readPoints(points []scalerstate.Point, md pmetric.Metrics) []scalerstate.Point {
	rms := md.ResourceMetrics()
	for r := 0; r < rms.Len(); r++ {
		alias := ""
		if v, ok := rms.At(r).Resource().Attributes().Get(clusterAliasKey); ok {
			alias = v.AsString()
		}
		sms := rms.At(r).ScopeMetrics()
		for s := 0; s < sms.Len(); s++ {
			metrics := sms.At(s).Metrics()
			for m := 0; m < metrics.Len(); m++ {
				points = readMetric(points, metrics.At(m), alias)
			}
		}
	}
	return points
}

func readMetric(points []scalerstate.Point, metric pmetric.Metric, alias string) []scalerstate.Point {
	switch metric.Type() {
	case pmetric.MetricTypeGauge:
		kind, ok := gaugeKinds[metric.Name()]
		if !ok {
			return points
		}
		return readNumbers(points, metric.Gauge().DataPoints(), kind, alias)
	case pmetric.MetricTypeSum:
		sum := metric.Sum()
		if metric.Name() != schema.MetricsInfo.SlimfaaskafkaConsumedMessages.Name ||
			sum.AggregationTemporality() != pmetric.AggregationTemporalityCumulative {
			return points
		}
		return readNumbers(points, sum.DataPoints(), scalerstate.Consumed, alias)
	}
	return points
}

func readNumbers(points []scalerstate.Point, dps pmetric.NumberDataPointSlice, kind scalerstate.Kind, alias string) []scalerstate.Point {
	for i := 0; i < dps.Len(); i++ {
		dp := dps.At(i)
		var value float64
		switch dp.ValueType() {
		case pmetric.NumberDataPointValueTypeInt:
			value = float64(dp.IntValue())
		case pmetric.NumberDataPointValueTypeDouble:
			value = dp.DoubleValue()
		default:
			continue
		}
		attrs := dp.Attributes()
		key, ok := bindingKey(attrs, alias)
		if !ok {
			continue
		}
		p := scalerstate.Point{
			Key: key, Kind: kind, Value: value,
			Time: dp.Timestamp().AsTime(), StartTime: dp.StartTimestamp().AsTime(),
		}
		if kind == scalerstate.Status {
			if value != 1 {
				continue
			}
			status, _ := attrs.Get(statusAttribute)
			p.Unreadable = status.AsString() == schema.AttributeStatusError.String()
		}
		points = append(points, p)
	}
	return points
}

func bindingKey(attrs pcommon.Map, alias string) (scalerstate.BindingKey, bool) {
	topic, ok1 := attrs.Get(topicKey)
	group, ok2 := attrs.Get(groupKey)
	function, ok3 := attrs.Get(functionKey)
	if !ok1 || !ok2 || !ok3 {
		return scalerstate.BindingKey{}, false
	}
	return scalerstate.BindingKey{
		ClusterAlias: alias, Topic: topic.AsString(), Group: group.AsString(), Function: function.AsString(),
	}, true
}
