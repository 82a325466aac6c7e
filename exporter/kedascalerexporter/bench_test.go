package kedascalerexporter

import (
	"context"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const benchBindings = 1000

// benchStart is the start of the benchmarks' consumed counters.
var benchStart = time.Now()

// benchBinding is binding i of the benchmarks, the only binding of its
// function.
func benchBinding(i int) binding {
	return binding{"", fmt.Sprintf("topic-%d", i), fmt.Sprintf("group-%d", i), fmt.Sprintf("function-%d", i)}
}

// benchBatch is one collection of every binding: pending, consumed and
// status, as the receiver reports them; binding hot has pending 1, the
// others 0.
func benchBatch(at time.Time, hot int) *batch {
	b := newBatch(at)
	for i := range benchBindings {
		bd := benchBinding(i)
		pending := int64(0)
		if i == hot {
			pending = 1
		}
		b.pending(bd, pending).consumed(bd, benchStart, 10).status(bd, "idle")
	}
	return b
}

// BenchmarkConsumeMetrics is the cost of one collection of 1,000 bindings
// with no stream open.
func BenchmarkConsumeMetrics(b *testing.B) {
	e := newScalerExporter(createDefaultConfig().(*Config), componenttestSettings(), time.Now)
	md := benchBatch(time.Now(), -1).md
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := e.consumeMetrics(ctx, md); err != nil {
			b.Fatal(err)
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkStreams1000 opens 1,000 StreamIsActive streams over loopback
// with KEDA's client, one per function, and measures one collection of
// 1,000 bindings that makes one binding active: from ConsumeMetrics to its
// stream's true (ns/op). It reports the heap each open stream holds (server
// and client side, both in this process) and the process CPU of that
// collection, all 1,000 streams re-evaluating included.
func BenchmarkStreams1000(b *testing.B) {
	e, client := startScaler(b, nil)
	at := time.Now()
	e.consume(b, benchBatch(at, -1))

	before := heapInUse()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	results := make([]<-chan bool, benchBindings)
	for i := range benchBindings {
		stream, err := client.StreamIsActive(ctx, ref(map[string]string{"function": benchBinding(i).function}))
		require.NoError(b, err)
		r, done := recvAll(stream)
		select {
		case active := <-r:
			require.False(b, active)
		case err := <-done:
			b.Fatal(err)
		}
		results[i] = r
	}
	perStream := float64(heapInUse()-before) / benchBindings

	var cpu time.Duration
	i := 0
	for b.Loop() {
		// Each collection is newer than the last: the store ignores late points.
		b.StopTimer()
		hot := i % benchBindings
		at = at.Add(time.Second)
		wake, idle := benchBatch(at, hot), benchBatch(at.Add(time.Millisecond), -1)
		start := cpuTime()
		b.StartTimer()
		e.consume(b, wake)
		if !<-results[hot] {
			b.Fatal("expected true")
		}
		b.StopTimer()
		cpu += cpuTime() - start
		e.consume(b, idle)
		if <-results[hot] {
			b.Fatal("expected false")
		}
		b.StartTimer()
		i++
	}
	b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/collection")
	b.ReportMetric(perStream, "heap-B/stream")
}
