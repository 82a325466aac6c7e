package kafkawakereceiver

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/metadata"
)

func TestReceiverLogsAPersistentErrorOnce(t *testing.T) {
	c := newTestCluster(t, kfake.SeedTopics(1, "orders"))
	cfg := createDefaultConfig().(*Config)
	cfg.Brokers = c.cluster.ListenAddrs()
	cfg.CollectionInterval = 20 * time.Millisecond
	cfg.Bindings = []BindingConfig{{Topic: "missing", ConsumerGroup: "g", Function: "f"}}
	require.NoError(t, cfg.Validate())

	core, logs := observer.New(zapcore.InfoLevel)
	set := receivertest.NewNopSettings(metadata.Type)
	set.Logger = zap.New(core)
	sink := &consumertest.MetricsSink{}
	rcv, err := NewFactory().CreateMetrics(context.Background(), set, cfg, sink)
	require.NoError(t, err)
	require.NoError(t, rcv.Start(context.Background(), componenttest.NewNopHost()))
	require.Eventually(t, func() bool { return len(sink.AllMetrics()) >= 10 }, 30*time.Second, 10*time.Millisecond)
	require.NoError(t, rcv.Shutdown(context.Background()))

	assert.Equal(t, 1, logs.FilterMessage("Error scraping metrics").Len(), "the same cause is logged once, not every scrape")
	assert.Equal(t, 1, logs.FilterMessageSnippet("Cannot read the binding's offsets").Len())
}
