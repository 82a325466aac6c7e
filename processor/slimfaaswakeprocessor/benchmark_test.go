package slimfaaswakeprocessor

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	schema "github.com/kafkawake/kafkawake/internal/metadata"
	"github.com/kafkawake/kafkawake/processor/slimfaaswakeprocessor/internal/metadata"
)

const (
	benchmarkBindings  = 1000
	benchmarkInterval  = 2 * time.Second
	benchmarkFunctions = 100
)

// BenchmarkProcessMetrics measures one batch of 1,000 bindings, in dry run so
// that no HTTP is involved. Every batch advances the clock by a scrape
// interval and the consumed counts of four bindings in five, so that bindings
// are pending, active or idle, and some are woken each batch.
//
// receiver_batch is the batch the kafkawake receiver emits, built with the
// same generated builder: pending and consumed for every binding, and
// last_activity_timestamp for the bindings that have consumed (2,800 points).
// pending_and_consumed leaves last_activity_timestamp out (2,000 points): the
// same work for the processor with fewer points to pass through.
//
// datapoints/s counts input points; in+out_points/s adds the 6,000 counter
// points the processor writes (2 counters × 3 reasons per binding).
// allocs/counter_point is every allocation of the measured batches over the
// counter points they wrote: the counters are nearly all of a batch's
// allocations, so this is their cost with everything else charged to them.
// copy_allocs/counter_point is what copying the same points allocates: the
// least pdata lets any code pay for them (each point, its value, its
// attribute slice and one wrapper per string attribute), so the difference
// between the two is the processor's own.
func BenchmarkProcessMetrics(b *testing.B) {
	b.Run("receiver_batch", func(b *testing.B) { benchmarkProcessMetrics(b, true) })
	b.Run("pending_and_consumed", func(b *testing.B) { benchmarkProcessMetrics(b, false) })
}

func benchmarkProcessMetrics(b *testing.B, withLastActivity bool) {
	cfg := configFor(unreachableEndpoint)
	cfg.DryRun = true
	clock := newFakeClock()
	p := newWakeProcessor(cfg, processortest.NewNopSettings(metadata.Type), clock.Now)
	b.Cleanup(func() { _ = p.shutdown(context.Background()) })

	template := receiverBatch(b, withLastActivity)
	consumed := metricNamed(template, schema.MetricsInfo.SlimfaaskafkaConsumedMessages.Name).Sum().DataPoints()
	lastActivity := pmetric.NewNumberDataPointSlice()
	if withLastActivity {
		lastActivity = metricNamed(template, schema.MetricsInfo.SlimfaaskafkaLastActivityTimestamp.Name).Gauge().DataPoints()
	}
	// advance moves the clock and the consumed counts to the given round.
	advance := func(round int) pmetric.Metrics {
		clock.Advance(benchmarkInterval)
		for i := 0; i < consumed.Len(); i++ {
			consumed.At(i).SetIntValue(int64(round) * int64(i%5))
		}
		for i := 0; i < lastActivity.Len(); i++ {
			lastActivity.At(i).SetDoubleValue(float64(clock.Now().Unix()))
		}
		md := pmetric.NewMetrics()
		template.CopyTo(md)
		return md
	}
	// Establish the consumed baselines outside the measurement.
	if _, err := p.processMetrics(context.Background(), advance(0)); err != nil {
		b.Fatal(err)
	}
	inputPoints := template.DataPointCount()

	const outputPointsPerBatch = benchmarkBindings * 2 * len(reasons)

	b.ReportAllocs()
	b.ResetTimer()
	var out pmetric.Metrics
	// batchAllocs sums the allocations of the measured calls only; it is read
	// with the timer stopped, like the building of each batch's input.
	var batchAllocs uint64
	var before, after runtime.MemStats
	for round := 1; round <= b.N; round++ {
		b.StopTimer()
		md := advance(round)
		runtime.ReadMemStats(&before)
		b.StartTimer()

		var err error
		if out, err = p.processMetrics(context.Background(), md); err != nil {
			b.Fatal(err)
		}

		b.StopTimer()
		runtime.ReadMemStats(&after)
		batchAllocs += after.Mallocs - before.Mallocs
		b.StartTimer()
	}
	b.StopTimer()
	if got := out.DataPointCount(); got != inputPoints+outputPointsPerBatch {
		b.Fatalf("last batch has %d points, want %d input and %d counter points", got, inputPoints, outputPointsPerBatch)
	}
	if woken := wakeupsIn(out); woken == 0 {
		b.Fatal("no binding was ever woken: the benchmark does not exercise the wake path")
	}
	elapsed := b.Elapsed().Seconds()
	b.ReportMetric(float64(inputPoints)*float64(b.N)/elapsed, "datapoints/s")
	b.ReportMetric(float64(inputPoints+outputPointsPerBatch)*float64(b.N)/elapsed, "in+out_points/s")
	b.ReportMetric(float64(batchAllocs)/float64(b.N*outputPointsPerBatch), "allocs/counter_point")
	counters := countersOf(b, out).Metrics()
	copyAllocs := testing.AllocsPerRun(10, func() { counters.CopyTo(pmetric.NewMetricSlice()) })
	b.ReportMetric(copyAllocs/float64(outputPointsPerBatch), "copy_allocs/counter_point")
}

// countersOf is the scope the processor appended to the batch's resource.
func countersOf(b *testing.B, md pmetric.Metrics) pmetric.ScopeMetrics {
	b.Helper()
	scopes := md.ResourceMetrics().At(0).ScopeMetrics()
	scope := scopes.At(scopes.Len() - 1)
	if scope.Scope().Name() != metadata.ScopeName {
		b.Fatalf("the batch's last scope is %q, not the processor's counters", scope.Scope().Name())
	}
	return scope
}

// receiverBatch records 1,000 bindings with the generated builder the
// receiver uses. Binding i consumes i%5 messages a round, so the four in
// five that consume carry a last activity.
func receiverBatch(b *testing.B, withLastActivity bool) pmetric.Metrics {
	b.Helper()
	mb := schema.NewMetricsBuilder(schema.DefaultMetricsBuilderConfig(), receivertest.NewNopSettings(schema.Type))
	ts := pcommon.NewTimestampFromTime(testStart)
	for i := range benchmarkBindings {
		topic, group, function := fmt.Sprintf("topic-%d", i), fmt.Sprintf("group-%d", i), fmt.Sprintf("function-%d", i%benchmarkFunctions)
		mb.RecordSlimfaaskafkaPendingMessagesDataPoint(ts, int64(i%3), topic, group, function)
		mb.RecordSlimfaaskafkaConsumedMessagesDataPoint(ts, 0, topic, group, function)
		if withLastActivity && i%5 != 0 {
			mb.RecordSlimfaaskafkaLastActivityTimestampDataPoint(ts, float64(testStart.Unix()), topic, group, function)
		}
	}
	return mb.Emit()
}

func metricNamed(md pmetric.Metrics, name string) pmetric.Metric {
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				if m.Name() == name {
					return m
				}
			}
		}
	}
	panic("no metric " + name)
}

// wakeupsIn sums the wakeups counters of md.
func wakeupsIn(md pmetric.Metrics) int64 {
	var total int64
	points := metricNamed(md, schema.MetricsInfo.SlimfaaskafkaWakeups.Name).Sum().DataPoints()
	for _, point := range points.All() {
		total += point.IntValue()
	}
	return total
}
