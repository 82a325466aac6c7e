//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkawake/kafkawake/internal/slimfaastest"
)

// The built collector exports the pending age under the name the example
// SlimFaas/Scale trigger queries, and with pending_age.method fetch it is the
// age of the oldest record waiting, as Prometheus sees it.
func TestPrometheusSeesPendingAge(t *testing.T) {
	cluster := newOrdersCluster(t, 3, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// A group that never committed waits for everything: the oldest record
	// was produced 2 minutes ago, on partition 1.
	producer, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.DisableClientMetrics(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	defer producer.Close()
	produced := time.Now()
	for p, age := range []time.Duration{30 * time.Second, 2 * time.Minute, 0} {
		rec := &kgo.Record{Topic: "orders", Partition: int32(p), Value: []byte("order"), Timestamp: produced.Add(-age)}
		require.NoError(t, producer.ProduceSync(ctx, rec).FirstErr())
	}

	wakeURL := slimfaastest.New(t).URL
	metricsPort := freePort(t)
	startCollector(t, collectorConfigWith(cluster.ListenAddrs(), wakeURL, metricsPort, `
    collection_interval: 500ms
    pending_age:
      method: fetch`, "", `
      - topic: orders
        consumer_group: order-processors
        function: f`), metricsPort)
	prom := startPrometheus(t, fmt.Sprintf("127.0.0.1:%d", metricsPort))

	require.EventuallyWithT(t, func(c *assert.CollectT) {
		age, ok, err := prom.query(ctx, `max_over_time(slimfaaskafka_pending_age_seconds{function="f"}[30s])`)
		assert.NoError(c, err)
		if assert.True(c, ok, "no pending age series") {
			assert.GreaterOrEqual(c, age, 120.0)
			assert.LessOrEqual(c, age, 120+time.Since(produced).Seconds())
		}
	}, time.Minute, 250*time.Millisecond)
}
