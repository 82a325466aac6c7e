package slimfaaswakeprocessor

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/kafkawake/kafkawake/processor/slimfaaswakeprocessor/internal/metadata"
)

// BenchmarkProcessMetrics measures one batch of 1,000 bindings, each with a
// pending and a consumed point, in dry run so that no HTTP is involved.
// Every batch advances the clock by a scrape interval and the consumed counts,
// so that bindings are pending, active or idle, and some are woken each batch.
func BenchmarkProcessMetrics(b *testing.B) {
	const bindings = 1000
	const pointsPerBatch = 2 * bindings
	cfg := configFor(unreachableEndpoint)
	cfg.DryRun = true
	clock := newFakeClock()
	p := newWakeProcessor(cfg, processortest.NewNopSettings(metadata.Type), clock.Now)
	b.Cleanup(func() { _ = p.shutdown(context.Background()) })

	batchAt := func(round int64) pmetric.Metrics {
		points := make([]point, 0, pointsPerBatch)
		for i := range bindings {
			topic, group, function := fmt.Sprintf("topic-%d", i), fmt.Sprintf("group-%d", i), fmt.Sprintf("function-%d", i%100)
			points = append(points,
				pendingPoint(topic, group, function, int64(i%3)),
				consumedPoint(topic, group, function, round*int64(i%5)))
		}
		return batch(points)
	}
	template := batchAt(0)
	// Establish the consumed baselines outside the measurement.
	if _, err := p.processMetrics(context.Background(), batchAt(0)); err != nil {
		b.Fatal(err)
	}
	consumed := template.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(1).Sum().DataPoints()

	b.ReportAllocs()
	b.ResetTimer()
	for round := 1; round <= b.N; round++ {
		b.StopTimer()
		for i := 0; i < consumed.Len(); i++ {
			consumed.At(i).SetIntValue(int64(round) * int64(i%5))
		}
		md := pmetric.NewMetrics()
		template.CopyTo(md)
		clock.Advance(2 * time.Second)
		b.StartTimer()

		if _, err := p.processMetrics(context.Background(), md); err != nil {
			b.Fatal(err)
		}
	}
	// Input points read, and input plus counter points written (2 counters ×
	// 3 reasons per binding).
	const outputPointsPerBatch = bindings * 2 * 3
	elapsed := b.Elapsed().Seconds()
	b.ReportMetric(float64(pointsPerBatch)*float64(b.N)/elapsed, "datapoints/s")
	b.ReportMetric(float64(pointsPerBatch+outputPointsPerBatch)*float64(b.N)/elapsed, "in+out_points/s")
}
