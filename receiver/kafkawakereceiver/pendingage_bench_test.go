package kafkawakereceiver

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"go.uber.org/zap"
)

// BenchmarkPendingAgeEstimate measures the estimate method without Kafka:
// 1,000 bindings on 1,000 topics of 12 partitions, every table full and
// every partition lagging. An op is one scrape's work (adding the high
// watermarks and dating every binding); history_MiB is the heap the 12,000
// full tables hold.
func BenchmarkPendingAgeEstimate(b *testing.B) {
	const bindings, partitions, step = 1000, 12, 10
	cfg := createDefaultConfig().(*Config)
	reads := make([]bindingOffsets, bindings)
	readErrs := make([]error, bindings)
	observed := make([]int, bindings)
	for i := range bindings {
		observed[i] = i
		cfg.Bindings = append(cfg.Bindings, BindingConfig{Topic: fmt.Sprintf("topic-%04d", i), ConsumerGroup: fmt.Sprintf("group-%04d", i), Function: fmt.Sprintf("fn-%04d", i)})
		reads[i].partitions = make(map[int32]partitionOffsets, partitions)
	}
	var layout topicLayout
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	var hw int64
	scrape := func() {
		now = now.Add(2 * time.Second)
		hw += step
		for i := range reads {
			for p := range int32(partitions) {
				reads[i].partitions[p] = partitionOffsets{highWatermark: hw, committed: hw - 30*step}
			}
		}
		a := agerUnderBench
		a.startScrape(now, layout, cfg.Bindings, observed, reads, readErrs)
		for i := range reads {
			collect := a.collect(i)
			for p, o := range reads[i].partitions {
				collect(p, committedRange(o))
			}
		}
		if _, known := a.ages(context.Background(), now, layout, cfg.Bindings); !known[0] {
			b.Fatal("the age of a lagging binding with a full table is unknown")
		}
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	agerUnderBench = newPendingAger(cfg, zap.NewNop())
	for range watermarkTableSize + 5 {
		scrape()
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	historyBytes := float64(after.HeapAlloc) - float64(before.HeapAlloc)

	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		scrape()
	}
	b.StopTimer()
	b.ReportMetric(historyBytes/(1<<20), "history_MiB")
	agerUnderBench = nil
}

// agerUnderBench keeps the measured history reachable while the heap is read.
var agerUnderBench *pendingAger

// BenchmarkPendingAgeFetch is BenchmarkScrape with pending_age.method fetch:
// 200 bindings on 200 topics × 12 partitions on 3 brokers, every partition
// lagging. fetches/scrape is the Fetch requests a scrape adds; kfake runs in
// the same process, so its allocations count too.
func BenchmarkPendingAgeFetch(b *testing.B) {
	counts := benchmarkScrape(b, func(cfg *Config) { cfg.PendingAge.Method = PendingAgeFetch })
	b.ReportMetric(float64(counts["Fetch"])/float64(b.N), "fetches/scrape")
}
