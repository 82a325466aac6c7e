//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/kafkawake/kafkawake/internal/collectortest"
	"github.com/kafkawake/kafkawake/internal/slimfaastest"
)

// pushedPending keeps the last pushed pending value of each function, and
// the largest request's points.
type pushedPending struct {
	mu         sync.Mutex
	pending    map[string]int64
	mostPoints int
}

func (p *pushedPending) receive(md pmetric.Metrics) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mostPoints = max(p.mostPoints, md.DataPointCount())
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				if m.Name() != "slimfaaskafka.pending_messages" {
					continue
				}
				for _, dp := range m.Gauge().DataPoints().All() {
					if fn, ok := dp.Attributes().Get("function"); ok {
						p.pending[fn.Str()] = dp.IntValue()
					}
				}
			}
		}
	}
}

// The README's advice near 10,000 bindings: push with the OTLP exporter,
// through a batch processor after slimfaaswake that splits each scrape.
// Every binding's pending value arrives, in requests no larger than the
// batch bound, and every function is woken.
func TestPushedWithOTLPEveryBindingArrives(t *testing.T) {
	const bindings, batchPoints = 30, 50
	cluster := newOrdersCluster(t, 3, 3)
	producer, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.DisableClientMetrics())
	require.NoError(t, err)
	defer producer.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for range 7 {
		require.NoError(t, producer.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("order")}).FirstErr())
	}

	pushed := &pushedPending{pending: map[string]int64{}}
	sink, err := collectortest.StartOTLPSink(pushed.receive)
	require.NoError(t, err)
	t.Cleanup(sink.Stop)

	slimFaas := slimfaastest.New(t)
	var list strings.Builder
	for i := range bindings {
		fmt.Fprintf(&list, "      - {topic: orders, consumer_group: group-%d, function: fn-%d}\n", i, i)
	}
	metricsPort := freePort(t)
	config := collectortest.WithOTLPPush(collectorConfig(cluster.ListenAddrs(), slimFaas.URL, metricsPort, list.String()), sink.Addr, batchPoints)
	col := startCollector(t, config, metricsPort)

	require.EventuallyWithT(t, func(c *assert.CollectT) {
		pushed.mu.Lock()
		defer pushed.mu.Unlock()
		for i := range bindings {
			got, ok := pushed.pending[fmt.Sprintf("fn-%d", i)]
			if assert.True(c, ok, "no pending value pushed for fn-%d", i) {
				assert.Equal(c, int64(7), got, "fn-%d", i)
			}
		}
		assert.Equal(c, bindings, slimFaas.TotalWakes(), "wakes")
	}, time.Minute, 200*time.Millisecond, "collector output:\n%s", col.Output())

	// Unsplit, a scrape of these bindings is one request of 630 points.
	pushed.mu.Lock()
	defer pushed.mu.Unlock()
	assert.LessOrEqual(t, pushed.mostPoints, batchPoints, "points in the largest request")
}
