//go:build e2e

package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkawake/kafkawake/internal/slimfaastest"
)

func TestWatchWakesBetweenScrapes(t *testing.T) {
	const interval = 20 * time.Second
	cluster := newOrdersCluster(t, 3, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	slimFaas := slimfaastest.New(t)
	wakeURL, calls := slimFaas.URL, slimFaas.Received()
	metricsPort := freePort(t)
	col := startCollector(t, collectorConfigWith(cluster.ListenAddrs(), wakeURL, metricsPort, `
    collection_interval: 20s
    watch:
      enabled: true
      max_wait: 5s`, "", `
      - topic: orders
        consumer_group: order-processors
        function: process-orders`), metricsPort)

	// The first scrape finds the function idle: nothing pending.
	binding := map[string]string{"topic": "orders", "group": "order-processors", "function": "process-orders"}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		samples, err := col.Scrape(ctx)
		if !assert.NoError(c, err) {
			return
		}
		pending, ok := samples.Find("slimfaaskafka_pending_messages", binding)
		assert.True(c, ok, "slimfaaskafka_pending_messages missing")
		assert.Equal(c, 0.0, pending)
	}, time.Minute, 50*time.Millisecond)
	firstScrapeSeen := time.Now()

	producer, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.DisableClientMetrics())
	require.NoError(t, err)
	defer producer.Close()
	require.NoError(t, producer.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("order")}).FirstErr())
	produced := time.Now()

	select {
	case call := <-calls:
		assert.Equal(t, http.MethodPost+" /wake-function/process-orders", call.Method+" "+call.URI)
	case <-col.Exited():
		t.Fatal("collector exited before waking the function")
	case <-ctx.Done():
		t.Fatal("no wake call arrived")
	}
	latency := time.Since(produced)
	t.Logf("produce -> wake POST: %s", latency)
	// The next scrape is at least an interval after the first one.
	assert.Less(t, time.Since(firstScrapeSeen), interval/2, "the wake must come from the watch, not from the next scrape")

	// The next scrape reports the same pending message within the cooldown:
	// still one wake.
	time.Sleep(time.Until(firstScrapeSeen.Add(interval + 2*time.Second)))
	samples, err := col.Scrape(ctx)
	require.NoError(t, err)
	wakeups, ok := samples.Find("slimfaaskafka_wakeups_total", map[string]string{"function": "process-orders", "reason": "pending"})
	require.True(t, ok, "slimfaaskafka_wakeups_total{reason=pending} missing")
	assert.Equal(t, 1.0, wakeups)
	select {
	case call := <-calls:
		t.Fatalf("unexpected second wake within the cooldown: %+v", call)
	default:
	}
}
