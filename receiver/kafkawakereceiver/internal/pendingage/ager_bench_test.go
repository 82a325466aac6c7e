package pendingage

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/kafkaread"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/offset"
)

// BenchmarkPendingAgeEstimate measures the estimate method without Kafka:
// 1,000 bindings on 1,000 topics of 12 partitions, every table full and
// every partition lagging. An op is one scrape's work (adding the high
// watermarks and dating every binding); history_MiB is the heap the 12,000
// full tables hold.
func BenchmarkPendingAgeEstimate(b *testing.B) {
	const bindings, partitions, step = 1000, 12, 10
	aged := make([]Binding, bindings)
	for i := range aged {
		aged[i] = Binding{Topic: fmt.Sprintf("topic-%04d", i), Partitions: offset.NewPartitions(partitions), Aged: true}
	}
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	var hw int64
	scrape := func() {
		now = now.Add(2 * time.Second)
		hw += step
		for i := range aged {
			aged[i].Ranges = aged[i].Ranges[:0]
			for p := range int32(partitions) {
				o := offset.Partition{HighWatermark: hw, Committed: hw - 30*step}
				aged[i].Partitions.Set(p, o)
				aged[i].Ranges = append(aged[i].Ranges, offset.PartitionRange{Partition: p, Range: offset.CommittedRange(o)})
			}
		}
		if ages := agerUnderBench.Ages(context.Background(), now, kafkaread.Layout{}, aged); !ages[0].Known {
			b.Fatal("the age of a lagging binding with a full table is unknown")
		}
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	agerUnderBench = New(false, false, nil, zap.NewNop())
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
var agerUnderBench *Ager
