package kafkawakereceiver

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/kafkawake/kafkawake/internal/kafkatest"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/scrape.json from this run")

// TestScrapeOutputIsStable pins everything a scrape emits, in order: metric
// names, descriptions, units and types, every point's attributes and value,
// for bindings that consume, sleep, read a queue and cannot be read. Only
// the start timestamps, the collector's start time, are left out.
func TestScrapeOutputIsStable(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(2, "orders"), kfake.SeedTopics(1, "jobs"))
	c.SetShareReset("queue", "earliest")
	c.Produce("orders", 0, 10)
	c.Produce("orders", 1, 4)
	c.Produce("jobs", 0, 3)
	c.Commit("workers", "orders", 0, 2)
	s, clock := startScraperWith(t, func(cfg *Config) {
		cfg.Brokers = c.Kfake.ListenAddrs()
		cfg.Metrics.SlimfaaskafkaPartitionPendingMessages.Enabled = true
		cfg.Scaling.TargetPendingPerReplica = ptr[int64](4)
		cfg.Bindings = []BindingConfig{
			{Topic: "orders", ConsumerGroup: "workers", Function: "worker"},
			{Topic: "orders", ConsumerGroup: "sleepers", Function: "sleeper"},
			{Topic: "jobs", ShareGroup: "queue", Function: "queue-worker"},
			{Topic: "missing", ConsumerGroup: "workers", Function: "lost"},
		}
	})
	_, err := s.scrape(c.Ctx())
	require.Error(t, err)
	clock.Advance(10 * time.Second)
	c.Produce("orders", 1, 2)
	c.Commit("workers", "orders", 0, 6)
	md, err := s.scrape(c.Ctx())
	require.ErrorContains(t, err, `topic "missing"`)
	withoutStartTimestamps(md)

	got, err := (&pmetric.JSONMarshaler{}).MarshalMetrics(md)
	require.NoError(t, err)
	var indented bytes.Buffer
	require.NoError(t, json.Indent(&indented, got, "", " "))
	path := filepath.Join("testdata", "scrape.json")
	if *updateGolden {
		require.NoError(t, os.WriteFile(path, indented.Bytes(), 0o600))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.JSONEq(t, string(want), indented.String())
}

func withoutStartTimestamps(md pmetric.Metrics) {
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				switch m.Type() {
				case pmetric.MetricTypeGauge:
					for _, dp := range m.Gauge().DataPoints().All() {
						dp.SetStartTimestamp(0)
					}
				case pmetric.MetricTypeSum:
					for _, dp := range m.Sum().DataPoints().All() {
						dp.SetStartTimestamp(0)
					}
				}
			}
		}
	}
}
