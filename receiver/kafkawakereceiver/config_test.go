package kafkawakereceiver

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	defaults := createDefaultConfig().(*Config)
	custom := createDefaultConfig().(*Config)
	custom.Brokers = []string{"kafka-0:9092", "kafka-1:9092"}
	custom.ClientID = "monitor"
	custom.CollectionInterval = 500 * time.Millisecond
	custom.Timeout = 3 * time.Second
	custom.OffsetReset = OffsetResetLatest
	custom.Bindings = []BindingConfig{
		{Topic: "orders", ConsumerGroup: "orders-group", Function: "processorders"},
		{Topic: "orders", ConsumerGroup: "audit-group", Function: "audit"},
	}
	defaults.Brokers = []string{"kafka:9092"}
	defaults.Bindings = []BindingConfig{{Topic: "fibo-public", ConsumerGroup: "fibonacci-listener-group", Function: "fibonaccilistener"}}

	tests := []struct {
		id   component.ID
		want *Config
	}{
		{component.NewID(metadata.Type), defaults},
		{component.NewIDWithName(metadata.Type, "custom"), custom},
	}
	for _, tt := range tests {
		t.Run(tt.id.String(), func(t *testing.T) {
			cfg := createDefaultConfig()
			sub, err := cm.Sub(tt.id.String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			require.NoError(t, confmap.Validate(cfg))
			assert.Equal(t, tt.want, cfg)
		})
	}
}

func TestDefaultConfig(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	assert.Equal(t, 2*time.Second, cfg.CollectionInterval)
	assert.Equal(t, time.Duration(0), cfg.InitialDelay)
	assert.Equal(t, 5*time.Second, cfg.Timeout)
	assert.Equal(t, "otelcol-kafkawake", cfg.ClientID)
	assert.Equal(t, OffsetResetEarliest, cfg.OffsetReset)
	// No default binding and no default broker: both must be configured.
	assert.ErrorContains(t, confmap.Validate(cfg), "brokers: must list at least one broker")
	assert.ErrorContains(t, confmap.Validate(cfg), "bindings: must list at least one binding")
}

func TestValidateNamesTheField(t *testing.T) {
	valid := func() *Config {
		cfg := createDefaultConfig().(*Config)
		cfg.Brokers = []string{"kafka:9092"}
		cfg.Bindings = []BindingConfig{{Topic: "t", ConsumerGroup: "g", Function: "f"}}
		return cfg
	}
	require.NoError(t, confmap.Validate(valid()))

	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{"no brokers", func(c *Config) { c.Brokers = nil }, "brokers: must list at least one broker"},
		{"blank broker", func(c *Config) { c.Brokers = []string{"kafka:9092", " "} }, "brokers[1]: must not be empty"},
		{"no bindings", func(c *Config) { c.Bindings = nil }, "bindings: must list at least one binding"},
		{"binding without topic", func(c *Config) { c.Bindings[0].Topic = "" }, "bindings[0].topic: must not be empty"},
		{"binding without group", func(c *Config) { c.Bindings[0].ConsumerGroup = "" }, "bindings[0].consumer_group: must not be empty"},
		{"binding without function", func(c *Config) { c.Bindings[0].Function = " " }, "bindings[0].function: must not be empty"},
		{"duplicate binding", func(c *Config) { c.Bindings = append(c.Bindings, c.Bindings[0]) }, "bindings[1]: duplicates bindings[0]"},
		{"zero timeout", func(c *Config) { c.Timeout = 0 }, "timeout: must be positive"},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, "timeout: must be positive"},
		{"unknown offset_reset", func(c *Config) { c.OffsetReset = "newest" }, `offset_reset: must be "earliest" or "latest", got "newest"`},
		{"zero collection_interval", func(c *Config) { c.CollectionInterval = 0 }, "collection_interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid()
			tt.mutate(cfg)
			assert.ErrorContains(t, confmap.Validate(cfg), tt.wantErr)
		})
	}
}
