//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// wakeCall is one request the fake SlimFaas received.
type wakeCall struct {
	method, path string
}

// fakeSlimFaas answers every wake with 204, as SlimFaas does for a known
// function, and records the calls.
func fakeSlimFaas(t *testing.T) (url string, calls <-chan wakeCall) {
	t.Helper()
	ch := make(chan wakeCall, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ch <- wakeCall{method: r.Method, path: r.URL.EscapedPath()}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, ch
}

func collectorConfig(brokers []string, wakeURL string, metricsPort int, bindings string) string {
	return collectorConfigWith(brokers, wakeURL, metricsPort, `
    collection_interval: 500ms`, "", bindings)
}

// collectorConfigWith is collectorConfig with receiverKeys and exporterKeys,
// indented YAML, added to the receiver's and the Prometheus exporter's
// configuration.
func collectorConfigWith(brokers []string, wakeURL string, metricsPort int, receiverKeys, exporterKeys, bindings string) string {
	return fmt.Sprintf(`
receivers:
  kafkawake:
    brokers: [%s]%s
    bindings:
%s
processors:
  slimfaaswake:
    endpoint: %s
    defaults:
      cooldown: 1h
exporters:
  prometheus:
    endpoint: 127.0.0.1:%d%s
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    metrics:
      receivers: [kafkawake]
      processors: [slimfaaswake]
      exporters: [prometheus]
`, strings.Join(brokers, ", "), receiverKeys, bindings, wakeURL, metricsPort, exporterKeys)
}

func TestWakeFromZeroEndToEnd(t *testing.T) {
	cluster := newOrdersCluster(t, 3, 3)

	// 7 messages wait for a group that never committed: the function sleeps.
	producer, err := kgo.NewClient(
		kgo.SeedBrokers(cluster.ListenAddrs()...),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.DisableClientMetrics(),
	)
	require.NoError(t, err)
	defer producer.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for partition, n := range []int{3, 2, 2} {
		for range n {
			rec := &kgo.Record{Topic: "orders", Partition: int32(partition), Value: []byte("order")}
			require.NoError(t, producer.ProduceSync(ctx, rec).FirstErr())
		}
	}

	wakeURL, calls := fakeSlimFaas(t)
	metricsPort := freePort(t)
	col := startCollector(t, collectorConfig(cluster.ListenAddrs(), wakeURL, metricsPort, `
      - topic: orders
        consumer_group: order-processors
        function: process-orders`), metricsPort)

	select {
	case call := <-calls:
		assert.Equal(t, wakeCall{method: http.MethodPost, path: "/wake-function/process-orders"}, call)
	case <-col.Exited():
		t.Fatal("collector exited before waking the function")
	case <-ctx.Done():
		t.Fatal("no wake call arrived")
	}

	binding := map[string]string{"topic": "orders", "group": "order-processors", "function": "process-orders"}
	wokeForPending := map[string]string{"topic": "orders", "group": "order-processors", "function": "process-orders", "reason": "pending"}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		samples, err := col.Scrape(ctx)
		if !assert.NoError(c, err) {
			return
		}
		pending, ok := samples.Find("slimfaaskafka_pending_messages", binding)
		assert.True(c, ok, "slimfaaskafka_pending_messages missing")
		assert.Equal(c, 7.0, pending)
		wakeups, ok := samples.Find("slimfaaskafka_wakeups_total", wokeForPending)
		assert.True(c, ok, "slimfaaskafka_wakeups_total{reason=pending} missing")
		assert.Equal(c, 1.0, wakeups)
	}, time.Minute, 200*time.Millisecond)

	select {
	case call := <-calls:
		t.Fatalf("unexpected second wake within the cooldown: %+v", call)
	default:
	}
}
