//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// TestKedaScalerEndToEnd drives the built collector's kedascaler exporter
// with KEDA's generated client: an idle binding's stream turns true when a
// message is produced (the watch reports it between collections),
// GetMetrics equals the pending messages kadm reads, and a deleted topic
// answers UNAVAILABLE.
func TestKedaScalerEndToEnd(t *testing.T) {
	cluster := newOrdersCluster(t, 3, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	metricsPort, scalerPort := freePort(t), freePort(t)
	col := startCollector(t, fmt.Sprintf(`
receivers:
  kafkawake:
    brokers: [%s]
    collection_interval: 1s
    offset_reset: earliest
    watch:
      enabled: true
    bindings:
      - topic: orders
        consumer_group: order-processors
        function: process-orders
exporters:
  prometheus:
    endpoint: 127.0.0.1:%d
  kedascaler:
    endpoint: 127.0.0.1:%d
    stale_after: 3
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    metrics:
      receivers: [kafkawake]
      exporters: [prometheus, kedascaler]
`, cluster.ListenAddrs()[0], metricsPort, scalerPort), metricsPort)
	require.NoError(t, col.WaitExposing(ctx, "slimfaaskafka_pending_messages", time.Minute))

	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", scalerPort), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	client := externalscaler.NewExternalScalerClient(conn)
	ref := &externalscaler.ScaledObjectRef{Name: "orders", Namespace: "shop", ScalerMetadata: map[string]string{
		"topic": "orders", "group": "order-processors",
	}}

	// Two collections give the binding its interval; it is idle.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		res, err := client.IsActive(ctx, ref)
		if assert.NoError(c, err) {
			assert.False(c, res.Result)
		}
	}, time.Minute, 100*time.Millisecond)

	stream, err := client.StreamIsActive(ctx, ref)
	require.NoError(t, err)
	first, err := stream.Recv()
	require.NoError(t, err)
	require.False(t, first.Result, "the current state on open")

	producer, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.DisableClientMetrics())
	require.NoError(t, err)
	defer producer.Close()
	require.NoError(t, producer.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("order")}).FirstErr())
	produced := time.Now()
	pushed, err := stream.Recv()
	require.NoError(t, err)
	assert.True(t, pushed.Result)
	t.Logf("produce -> StreamIsActive true: %s", time.Since(produced))

	// GetMetrics equals the truth: the group never committed (earliest), so
	// pending = high watermark - log start, summed over partitions.
	admin := kadm.NewClient(producer)
	ends, err := admin.ListEndOffsets(ctx, "orders")
	require.NoError(t, err)
	require.NoError(t, ends.Error())
	starts, err := admin.ListStartOffsets(ctx, "orders")
	require.NoError(t, err)
	require.NoError(t, starts.Error())
	var truth int64
	ends.Each(func(o kadm.ListedOffset) {
		start, ok := starts.Lookup(o.Topic, o.Partition)
		require.True(t, ok)
		truth += o.Offset - start.Offset
	})
	require.EqualValues(t, 1, truth)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		res, err := client.GetMetrics(ctx, &externalscaler.GetMetricsRequest{ScaledObjectRef: ref, MetricName: "kafkawake-orders-order-processors"})
		if assert.NoError(c, err) && assert.Len(c, res.MetricValues, 1) {
			assert.Equal(c, float64(truth), res.MetricValues[0].MetricValueFloat)
		}
	}, time.Minute, 100*time.Millisecond)

	// Let two collections pass, so the binding's interval is its
	// collection_interval and not the gap between two watch reports.
	time.Sleep(2500 * time.Millisecond)

	// The topic is deleted: the value becomes unknown, never 0.
	deleted, err := admin.DeleteTopics(ctx, "orders")
	require.NoError(t, err)
	require.NoError(t, deleted.Error())
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		_, err := client.GetMetrics(ctx, &externalscaler.GetMetricsRequest{ScaledObjectRef: ref})
		assert.Equal(c, codes.Unavailable, status.Code(err), "%v", err)
	}, time.Minute, 200*time.Millisecond)
	_, err = client.IsActive(ctx, ref)
	assert.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
	t.Logf("after the topic's deletion: %v", err)
}

func TestKedaScalerInvalidConfigStopsTheCollector(t *testing.T) {
	for field, keys := range map[string]string{
		"endpoint":      "endpoint: collector-without-port",
		"active_window": "active_window: 0s",
		"stale_after":   "stale_after: 0",
	} {
		t.Run(field, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.yaml")
			require.NoError(t, os.WriteFile(path, []byte(fmt.Sprintf(`
receivers:
  kafkawake:
    brokers: ["127.0.0.1:9092"]
    bindings:
      - {topic: orders, consumer_group: g, function: f}
exporters:
  kedascaler:
    %s
service:
  pipelines:
    metrics:
      receivers: [kafkawake]
      exporters: [kedascaler]
`, keys)), 0o600))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, collectorBinary(t), "--config", path).CombinedOutput()
			require.Error(t, err, "the collector started")
			assert.Contains(t, string(out), "kedascaler")
			assert.Contains(t, string(out), field+":")
		})
	}
}
