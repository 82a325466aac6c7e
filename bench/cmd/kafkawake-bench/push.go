package main

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/kafkawake/kafkawake/internal/collectortest"
)

// pushBatchPoints bounds the points of one OTLP request in the push run: a
// scrape of 10,000 bindings is about 23 MB encoded, and an OTLP backend's
// request limit (gRPC's default is 4 MiB) requires it split.
const pushBatchPoints = 10000

// pushCounter keeps nothing of what the push run sends but the counts it
// reports: a backend that answers at once, so that the collector's memory
// is its own.
type pushCounter struct {
	*collectortest.OTLPSink

	mu           sync.Mutex
	names        map[string]bool // metric names received so far
	points, size int             // received so far, and their encoded size
}

func startPushCounter() (*pushCounter, error) {
	c := &pushCounter{names: map[string]bool{}}
	sink, err := collectortest.StartOTLPSink(c.count)
	c.OTLPSink = sink
	return c, err
}

func (c *pushCounter) count(md pmetric.Metrics) {
	size := (&pmetric.ProtoMarshaler{}).MetricsSize(md)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.points += md.DataPointCount()
	c.size += size
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				c.names[m.Name()] = true
			}
		}
	}
}

// received is the points received so far and their encoded size.
func (c *pushCounter) received() (points, size int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.points, c.size
}

// waitFor waits until a push has carried the metric named name.
func (c *pushCounter) waitFor(ctx context.Context, col *collectortest.Collector, name string, timeout time.Duration) error {
	return col.WaitUntil(ctx, timeout, "push "+name, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.names[name]
	})
}
