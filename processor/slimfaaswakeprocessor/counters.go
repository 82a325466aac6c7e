package slimfaaswakeprocessor // import "github.com/kafkawake/kafkawake/processor/slimfaaswakeprocessor"

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/receiver"

	schema "github.com/kafkawake/kafkawake/internal/metadata"
	"github.com/kafkawake/kafkawake/processor/slimfaaswakeprocessor/internal/metadata"
)

// counterTemplates returns the wakeups and wake_failures metrics, in that
// order, with their name, description, unit and temporality and no points.
// They come from the builder generated for the shared schema, so nothing of
// the schema is written twice. The builder itself is not used per batch: it
// compares every new point with all earlier ones, which is quadratic in the
// number of bindings.
func counterTemplates(set processor.Settings) pmetric.MetricSlice {
	// The schema package is receiver-class only so that mdatagen generates
	// its builder, which needs nothing but the logger and build info.
	mb := schema.NewMetricsBuilder(schema.DefaultMetricsBuilderConfig(),
		receiver.Settings{ID: set.ID, TelemetrySettings: set.TelemetrySettings, BuildInfo: set.BuildInfo})
	mb.RecordSlimfaaskafkaWakeupsDataPoint(0, 0, "", "", "", schema.AttributeReasonPending)
	mb.RecordSlimfaaskafkaWakeFailuresDataPoint(0, 0, "", "", "", schema.AttributeReasonPending)
	emitted := mb.Emit().ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	templates := pmetric.NewMetricSlice()
	for _, name := range []string{schema.MetricsInfo.SlimfaaskafkaWakeups.Name, schema.MetricsInfo.SlimfaaskafkaWakeFailures.Name} {
		for _, m := range emitted.All() {
			if m.Name() == name {
				m.Sum().DataPoints().RemoveIf(func(pmetric.NumberDataPoint) bool { return true })
				m.CopyTo(templates.AppendEmpty())
			}
		}
	}
	return templates
}

// appendCounters adds, to each ResourceMetrics of md that carried bindings,
// a ScopeMetrics with the wakeups and wake_failures of those bindings for
// every reason. Callers hold p.mu.
func (p *wakeProcessor) appendCounters(md pmetric.Metrics, now time.Time) {
	ts := pcommon.NewTimestampFromTime(now)
	rms := md.ResourceMetrics()
	for r, bindings := range p.bindings.perResource {
		if len(bindings) == 0 {
			continue
		}
		scope := rms.At(r).ScopeMetrics().AppendEmpty()
		scope.Scope().SetName(metadata.ScopeName)
		scope.Scope().SetVersion(p.set.BuildInfo.Version)
		p.counters.CopyTo(scope.Metrics())
		wakeups := scope.Metrics().At(0).Sum().DataPoints()
		failures := scope.Metrics().At(1).Sum().DataPoints()
		wakeups.EnsureCapacity(len(bindings) * len(reasons))
		failures.EnsureCapacity(len(bindings) * len(reasons))
		for _, b := range bindings {
			for _, reason := range reasons {
				p.appendCount(wakeups, b, reason, b.wakeups[reason], ts)
				p.appendCount(failures, b, reason, b.failures[reason], ts)
			}
		}
	}
}

func (p *wakeProcessor) appendCount(points pmetric.NumberDataPointSlice, b *binding, reason schema.AttributeReason, count int64, ts pcommon.Timestamp) {
	point := points.AppendEmpty()
	point.SetStartTimestamp(b.startTime)
	point.SetTimestamp(ts)
	point.SetIntValue(count)
	attrs := point.Attributes()
	// Room for the reason too, so that CopyTo and PutStr share one slice.
	attrs.EnsureCapacity(b.attributes.Len() + 1)
	b.attributes.CopyTo(attrs)
	attrs.PutStr(reasonKey, reason.String())
}
