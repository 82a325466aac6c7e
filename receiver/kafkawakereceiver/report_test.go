package kafkawakereceiver

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kafkawake/kafkawake/internal/kafkatest"
	schema "github.com/kafkawake/kafkawake/internal/metadata"
)

func TestPerPartitionPendingIsOptional(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(3, "events"))
	c.Produce("events", 0, 4)
	c.Produce("events", 2, 9)
	c.Commit("g", "events", 2, 3)
	partitionName := schema.MetricsInfo.SlimfaaskafkaPartitionPendingMessages.Name

	for _, enabled := range []bool{false, true} {
		s, _ := startScraperWith(t, func(cfg *Config) {
			cfg.Brokers = c.Kfake.ListenAddrs()
			cfg.Metrics.SlimfaaskafkaPartitionPendingMessages.Enabled = enabled
			cfg.Bindings = []BindingConfig{{Topic: "events", ConsumerGroup: "g", Function: "f"}}
		})
		md, err := s.scrape(c.Ctx())
		require.NoError(t, err)
		byPartition := map[int64]int64{}
		for _, rm := range md.ResourceMetrics().All() {
			for _, sm := range rm.ScopeMetrics().All() {
				for _, m := range sm.Metrics().All() {
					if m.Name() != partitionName {
						continue
					}
					for _, dp := range m.Gauge().DataPoints().All() {
						p, ok := dp.Attributes().Get("partition")
						require.True(t, ok)
						byPartition[p.Int()] = dp.IntValue()
					}
				}
			}
		}
		if !enabled {
			assert.Empty(t, byPartition, "disabled by default")
			continue
		}
		assert.Equal(t, map[int64]int64{0: 4, 1: 0, 2: 6}, byPartition)
	}
}

func TestManyBindingsAreOneResourceWithOnePointEach(t *testing.T) {
	const topics, bindings = 7, 101
	names := make([]string, topics)
	for i := range names {
		names[i] = fmt.Sprintf("t%d", i)
	}
	c := kafkatest.New(t, kfake.SeedTopics(1, names...))
	var configs []BindingConfig
	for i, name := range names {
		c.Produce(name, 0, i+1)
	}
	for i := range bindings {
		configs = append(configs, BindingConfig{Topic: names[i%topics], ConsumerGroup: fmt.Sprintf("g%d", i), Function: fmt.Sprintf("f%d", i)})
	}
	s, _ := startScraper(t, c.Kfake.ListenAddrs(), OffsetResetEarliest, configs...)
	md, err := s.scrape(c.Ctx())
	require.NoError(t, err)
	require.Equal(t, 1, md.ResourceMetrics().Len())
	require.Equal(t, 1, md.ResourceMetrics().At(0).ScopeMetrics().Len())
	pts := pointsByFunction(t, md) // fails on a second point for a function
	require.Len(t, pts[pendingName], bindings)
	require.Len(t, pts[consumedName], bindings)
	for i := range bindings {
		assert.Equal(t, int64(i%topics+1), pts.intValue(t, pendingName, fmt.Sprintf("f%d", i)))
	}
}

func TestClusterAliasIsAResourceAttribute(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(1, "orders"))
	bindings := make([]BindingConfig, 33)
	for i := range bindings {
		bindings[i] = BindingConfig{Topic: "orders", ConsumerGroup: fmt.Sprintf("g%d", i), Function: fmt.Sprintf("f%d", i)}
	}
	tests := []struct {
		name      string
		configure func(*Config)
		want      map[string]any
	}{
		{"alias set", func(cfg *Config) { cfg.ClusterAlias = "eu-prod" }, map[string]any{"kafka.cluster.alias": "eu-prod"}},
		{"no alias", func(*Config) {}, map[string]any{}},
		{"attribute disabled", func(cfg *Config) {
			cfg.ClusterAlias = "eu-prod"
			cfg.ResourceAttributes.KafkaClusterAlias.Enabled = false
		}, map[string]any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := startScraperWith(t, func(cfg *Config) {
				cfg.Brokers = c.Kfake.ListenAddrs()
				cfg.Bindings = bindings
				tt.configure(cfg)
			})
			for range 2 {
				md, err := s.scrape(c.Ctx())
				require.NoError(t, err)
				require.Equal(t, 1, md.ResourceMetrics().Len())
				assert.Equal(t, tt.want, md.ResourceMetrics().At(0).Resource().Attributes().AsRaw())
			}
		})
	}
}
