//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"google.golang.org/grpc"
	_ "google.golang.org/grpc/encoding/gzip" // the OTLP exporter compresses with gzip by default

	"github.com/kafkawake/kafkawake/internal/slimfaastest"
)

// pushedPending is an OTLP/gRPC endpoint that keeps the last pushed
// pending value of each function, and the largest request's points.
type pushedPending struct {
	pmetricotlp.UnimplementedGRPCServer
	mu         sync.Mutex
	pending    map[string]int64
	mostPoints int
}

func (p *pushedPending) Export(_ context.Context, req pmetricotlp.ExportRequest) (pmetricotlp.ExportResponse, error) {
	md := req.Metrics()
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
	return pmetricotlp.NewExportResponse(), nil
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

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	sink := &pushedPending{pending: map[string]int64{}}
	server := grpc.NewServer()
	pmetricotlp.RegisterGRPCServer(server, sink)
	go func() { _ = server.Serve(lis) }()
	t.Cleanup(server.Stop)

	slimFaas := slimfaastest.New(t)
	var list strings.Builder
	for i := range bindings {
		fmt.Fprintf(&list, "      - {topic: orders, consumer_group: group-%d, function: fn-%d}\n", i, i)
	}
	config := fmt.Sprintf(`
receivers:
  kafkawake:
    brokers: [%s]
    collection_interval: 500ms
    bindings:
%s
processors:
  slimfaaswake:
    endpoint: %s
    defaults:
      cooldown: 1h
  batch:
    send_batch_size: %d
    send_batch_max_size: %d
exporters:
  otlp_grpc:
    endpoint: %s
    tls:
      insecure: true
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    metrics:
      receivers: [kafkawake]
      processors: [slimfaaswake, batch]
      exporters: [otlp_grpc]
`, strings.Join(cluster.ListenAddrs(), ", "), list.String(), slimFaas.URL, batchPoints, batchPoints, lis.Addr())
	col := startCollector(t, config, freePort(t))

	require.EventuallyWithT(t, func(c *assert.CollectT) {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		for i := range bindings {
			got, ok := sink.pending[fmt.Sprintf("fn-%d", i)]
			if assert.True(c, ok, "no pending value pushed for fn-%d", i) {
				assert.Equal(c, int64(7), got, "fn-%d", i)
			}
		}
		assert.Equal(c, bindings, slimFaas.TotalWakes(), "wakes")
	}, time.Minute, 200*time.Millisecond, "collector output:\n%s", col.Output())

	// Unsplit, a scrape of these bindings is one request of 630 points.
	sink.mu.Lock()
	defer sink.mu.Unlock()
	assert.LessOrEqual(t, sink.mostPoints, batchPoints, "points in the largest request")
}
