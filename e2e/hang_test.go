//go:build e2e

package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestMetricsKeepUpdatingWhileTheWakeEndpointHangs proves, on the built
// binary, that a SlimFaas that never answers does not stall the pipeline.
func TestMetricsKeepUpdatingWhileTheWakeEndpointHangs(t *testing.T) {
	cluster := newOrdersCluster(t, 1, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	called := make(chan struct{}, 100)
	hang := make(chan struct{})
	slimfaas := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		called <- struct{}{}
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slimfaas.Close)
	t.Cleanup(func() { close(hang) })

	producer, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.DisableClientMetrics())
	require.NoError(t, err)
	defer producer.Close()
	produced := 0
	produceUpTo := func(total int) {
		for ; produced < total; produced++ {
			require.NoError(t, producer.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("o")}).FirstErr())
		}
	}
	produceUpTo(2)

	metricsPort := freePort(t)
	// The default 10s HTTP timeout: the wake call hangs through the test.
	col := startCollector(t, collectorConfig(cluster.ListenAddrs(), slimfaas.URL, metricsPort, `
      - topic: orders
        consumer_group: g
        function: f`), metricsPort)
	select {
	case <-called:
	case <-ctx.Done():
		t.Fatal("no wake call arrived")
	}

	binding := map[string]string{"function": "f"}
	for _, total := range []int{5, 9} {
		produceUpTo(total)
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			samples, err := col.Scrape(ctx)
			if !assert.NoError(c, err) {
				return
			}
			pending, ok := samples.Find("slimfaaskafka_pending_messages", binding)
			assert.True(c, ok)
			assert.Equal(c, float64(total), pending)
		}, 5*time.Second, 100*time.Millisecond, "/metrics stopped updating while the wake call hangs")
	}
	assert.Len(t, called, 0, "no second call while the first is in flight")
}
