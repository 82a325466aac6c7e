//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkawake/kafkawake/internal/slimfaastest"
)

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

	slimFaas := slimfaastest.New(t)
	wakeURL, calls := slimFaas.URL, slimFaas.Received()
	metricsPort := freePort(t)
	col := startCollector(t, collectorConfig(cluster.ListenAddrs(), wakeURL, metricsPort, `
      - topic: orders
        consumer_group: order-processors
        function: process-orders`), metricsPort)

	select {
	case call := <-calls:
		assert.Equal(t, http.MethodPost+" /wake-function/process-orders", call.Method+" "+call.URI)
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
