package kafkawakereceiver // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver"

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	schema "github.com/kafkawake/kafkawake/internal/metadata"
)

// metricID names a metric the receiver writes.
type metricID int

const (
	bindingOwned metricID = iota
	bindingStatus
	consumedMessages
	desiredReplicas
	drainTime
	groupMembers
	lastActivityTimestamp
	lostMessages
	partitionPendingMessages
	partitions
	partitionsPending
	pendingAge
	pendingMessages
	producedMessages
	stalledPartitions
	metricCount
)

// sampleRecorders record one point of each metric with the generated
// builder, so that what the builder makes of it (name, description, unit,
// type, enabled attributes, start time) is read from metadata.yaml's
// generated code and written nowhere else.
var sampleRecorders = [metricCount]func(mb *schema.MetricsBuilder){
	bindingOwned: func(mb *schema.MetricsBuilder) { mb.RecordSlimfaaskafkaBindingOwnedDataPoint(0, 0, "", "", "") },
	bindingStatus: func(mb *schema.MetricsBuilder) {
		mb.RecordSlimfaaskafkaBindingStatusDataPoint(0, 0, "", "", "", schema.AttributeStatusError)
	},
	consumedMessages: func(mb *schema.MetricsBuilder) { mb.RecordSlimfaaskafkaConsumedMessagesDataPoint(0, 0, "", "", "") },
	desiredReplicas:  func(mb *schema.MetricsBuilder) { mb.RecordSlimfaaskafkaDesiredReplicasDataPoint(0, 0, "", "", "") },
	drainTime:        func(mb *schema.MetricsBuilder) { mb.RecordSlimfaaskafkaDrainTimeDataPoint(0, 0, "", "", "") },
	groupMembers:     func(mb *schema.MetricsBuilder) { mb.RecordSlimfaaskafkaGroupMembersDataPoint(0, 0, "", "", "") },
	lastActivityTimestamp: func(mb *schema.MetricsBuilder) {
		mb.RecordSlimfaaskafkaLastActivityTimestampDataPoint(0, 0, "", "", "")
	},
	lostMessages: func(mb *schema.MetricsBuilder) { mb.RecordSlimfaaskafkaLostMessagesDataPoint(0, 0, "", "", "") },
	partitionPendingMessages: func(mb *schema.MetricsBuilder) {
		mb.RecordSlimfaaskafkaPartitionPendingMessagesDataPoint(0, 0, "", "", "", 0)
	},
	partitions:        func(mb *schema.MetricsBuilder) { mb.RecordSlimfaaskafkaPartitionsDataPoint(0, 0, "", "", "") },
	partitionsPending: func(mb *schema.MetricsBuilder) { mb.RecordSlimfaaskafkaPartitionsPendingDataPoint(0, 0, "", "", "") },
	pendingAge:        func(mb *schema.MetricsBuilder) { mb.RecordSlimfaaskafkaPendingAgeDataPoint(0, 0, "", "", "") },
	pendingMessages:   func(mb *schema.MetricsBuilder) { mb.RecordSlimfaaskafkaPendingMessagesDataPoint(0, 0, "", "", "") },
	producedMessages:  func(mb *schema.MetricsBuilder) { mb.RecordSlimfaaskafkaProducedMessagesDataPoint(0, 0, "", "", "") },
	stalledPartitions: func(mb *schema.MetricsBuilder) { mb.RecordSlimfaaskafkaStalledPartitionsDataPoint(0, 0, "", "", "") },
}

// pointSchema is what the generated builder makes of each metric, kept to
// write an observation's points directly: the builder checks every new point
// against all the points of its metric for a duplicate, which is quadratic
// in the bindings, and builds each point twice. A binding's points are
// unique by construction (bindings are), so the check has nothing to find.
type pointSchema struct {
	// samples holds, per metric, the builder's metric with its one sample
	// point; nil for a metric that is turned off.
	samples [metricCount]*pmetric.Metric
	// keys lists, per metric, its enabled attributes in the builder's order.
	keys [metricCount][]string
	// resource and scope are the builder's, with its resource filters
	// applied: a filtered-out resource has no samples at all.
	resource pcommon.Resource
	scope    pcommon.InstrumentationScope
}

func newPointSchema(mb *schema.MetricsBuilder, resource pcommon.Resource) *pointSchema {
	ps := &pointSchema{resource: resource, scope: pcommon.NewInstrumentationScope()}
	for id := range metricCount {
		sampleRecorders[id](mb)
	}
	md := mb.Emit(schema.WithResource(resource))
	if md.ResourceMetrics().Len() == 0 {
		return ps
	}
	sm := md.ResourceMetrics().At(0).ScopeMetrics().At(0)
	sm.Scope().CopyTo(ps.scope)
	byName := map[string]metricID{}
	for id := range metricCount {
		byName[nameOf(id)] = id
	}
	for _, m := range sm.Metrics().All() {
		id, ok := byName[m.Name()]
		if !ok {
			continue
		}
		sample := pmetric.NewMetric()
		m.CopyTo(sample)
		ps.samples[id] = &sample
		for k := range samplePoint(sample).Attributes().All() {
			ps.keys[id] = append(ps.keys[id], k)
		}
	}
	return ps
}

// nameOf is a metric's name in the schema.
func nameOf(id metricID) string {
	info := schema.MetricsInfo
	return [metricCount]string{
		bindingOwned:             info.SlimfaaskafkaBindingOwned.Name,
		bindingStatus:            info.SlimfaaskafkaBindingStatus.Name,
		consumedMessages:         info.SlimfaaskafkaConsumedMessages.Name,
		desiredReplicas:          info.SlimfaaskafkaDesiredReplicas.Name,
		drainTime:                info.SlimfaaskafkaDrainTime.Name,
		groupMembers:             info.SlimfaaskafkaGroupMembers.Name,
		lastActivityTimestamp:    info.SlimfaaskafkaLastActivityTimestamp.Name,
		lostMessages:             info.SlimfaaskafkaLostMessages.Name,
		partitionPendingMessages: info.SlimfaaskafkaPartitionPendingMessages.Name,
		partitions:               info.SlimfaaskafkaPartitions.Name,
		partitionsPending:        info.SlimfaaskafkaPartitionsPending.Name,
		pendingAge:               info.SlimfaaskafkaPendingAge.Name,
		pendingMessages:          info.SlimfaaskafkaPendingMessages.Name,
		producedMessages:         info.SlimfaaskafkaProducedMessages.Name,
		stalledPartitions:        info.SlimfaaskafkaStalledPartitions.Name,
	}[id]
}

func pointsOf(m pmetric.Metric) pmetric.NumberDataPointSlice {
	if m.Type() == pmetric.MetricTypeSum {
		return m.Sum().DataPoints()
	}
	return m.Gauge().DataPoints()
}

func samplePoint(m pmetric.Metric) pmetric.NumberDataPoint { return pointsOf(m).At(0) }

// pointAttributes are the values a point's attributes take; each metric
// writes those of its enabled keys.
type pointAttributes struct {
	topic, group, function string
	partition              int32
	status                 string
}

// pointWriter writes the points of one observation into one resource and
// scope, one metric per name in the builder's order.
type pointWriter struct {
	schema *pointSchema
	// points holds each metric once it has a point; emit appends them in
	// the schema's order.
	points   [metricCount]pmetric.Metric
	started  [metricCount]bool
	capacity int
}

// newPointWriter starts an observation of about capacity points per metric.
func (ps *pointSchema) newPointWriter(capacity int) *pointWriter {
	return &pointWriter{schema: ps, capacity: capacity}
}

func (w *pointWriter) point(id metricID, ts pcommon.Timestamp, attrs pointAttributes) (pmetric.NumberDataPoint, bool) {
	sample := w.schema.samples[id]
	if sample == nil {
		return pmetric.NumberDataPoint{}, false
	}
	if !w.started[id] {
		w.started[id] = true
		m := pmetric.NewMetric()
		m.SetName(sample.Name())
		m.SetDescription(sample.Description())
		m.SetUnit(sample.Unit())
		switch sample.Type() {
		case pmetric.MetricTypeSum:
			sum := m.SetEmptySum()
			sum.SetIsMonotonic(sample.Sum().IsMonotonic())
			sum.SetAggregationTemporality(sample.Sum().AggregationTemporality())
		default:
			m.SetEmptyGauge()
		}
		pointsOf(m).EnsureCapacity(w.capacity)
		w.points[id] = m
	}
	dp := pointsOf(w.points[id]).AppendEmpty()
	dp.SetStartTimestamp(samplePoint(*sample).StartTimestamp())
	dp.SetTimestamp(ts)
	keys := w.schema.keys[id]
	m := dp.Attributes()
	m.EnsureCapacity(len(keys))
	for _, k := range keys {
		switch k {
		case "topic":
			m.PutStr(k, attrs.topic)
		case "group":
			m.PutStr(k, attrs.group)
		case "function":
			m.PutStr(k, attrs.function)
		case "partition":
			m.PutInt(k, int64(attrs.partition))
		case "status":
			m.PutStr(k, attrs.status)
		}
	}
	return dp, true
}

// int writes a point with an integer value.
func (w *pointWriter) int(id metricID, ts pcommon.Timestamp, value int64, attrs pointAttributes) {
	if dp, ok := w.point(id, ts, attrs); ok {
		dp.SetIntValue(value)
	}
}

// double writes a point with a floating-point value.
func (w *pointWriter) double(id metricID, ts pcommon.Timestamp, value float64, attrs pointAttributes) {
	if dp, ok := w.point(id, ts, attrs); ok {
		dp.SetDoubleValue(value)
	}
}

// emit returns the observation's points: one resource, one scope, the
// metrics that have points in the schema's order; no resource at all when
// nothing was written.
func (w *pointWriter) emit() pmetric.Metrics {
	md := pmetric.NewMetrics()
	var metrics pmetric.MetricSlice
	for id := range metricCount {
		if !w.started[id] {
			continue
		}
		if md.ResourceMetrics().Len() == 0 {
			rm := md.ResourceMetrics().AppendEmpty()
			w.schema.resource.CopyTo(rm.Resource())
			sm := rm.ScopeMetrics().AppendEmpty()
			w.schema.scope.CopyTo(sm.Scope())
			metrics = sm.Metrics()
		}
		w.points[id].MoveTo(metrics.AppendEmpty())
	}
	return md
}

// attributes are the binding's point attributes.
func (b BindingConfig) attributes() pointAttributes {
	return pointAttributes{topic: b.Topic, group: b.Group(), function: b.Function}
}

// inPartition are the attributes of one of the binding's partitions.
func (a pointAttributes) inPartition(p int32) pointAttributes {
	a.partition = p
	return a
}
