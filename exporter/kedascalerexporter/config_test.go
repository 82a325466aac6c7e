package kedascalerexporter

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/kafkawake/kafkawake/exporter/kedascalerexporter/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	custom := createDefaultConfig().(*Config)
	custom.NetAddr.Endpoint = "0.0.0.0:6000"
	custom.ActiveWindow = 2 * time.Minute
	custom.StaleAfter = 5
	tls := configtls.NewDefaultServerConfig()
	tls.CertFile, tls.KeyFile, tls.ClientCAFile = "server.crt", "server.key", "ca.crt"
	custom.TLS = configoptional.Some(tls)
	keepalive := configgrpc.NewDefaultKeepaliveServerConfig()
	keepalive.ServerParameters.GetOrInsertDefault().Time = 30 * time.Second
	custom.Keepalive = configoptional.Some(keepalive)

	tests := []struct {
		name     string
		expected *Config
		wantErrs []string
	}{
		{name: "", expected: createDefaultConfig().(*Config)},
		{name: "custom", expected: custom},
		{name: "empty_endpoint", wantErrs: []string{"endpoint: must not be empty"}},
		{name: "endpoint_without_port", wantErrs: []string{"endpoint: must be host:port"}},
		{name: "bad_port", wantErrs: []string{`endpoint: port "http" must be a number from 0 to 65535`}},
		{name: "bad_window_and_staleness", wantErrs: []string{
			"active_window: must be positive, got 0s",
			"stale_after: must be at least 1 collection interval, got 0",
		}},
	}
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig()
			sub, err := cm.Sub(component.NewIDWithName(metadata.Type, tt.name).String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			err = confmap.Validate(cfg)
			if len(tt.wantErrs) == 0 {
				require.NoError(t, err)
				assert.Equal(t, tt.expected, cfg)
				return
			}
			for _, want := range tt.wantErrs {
				assert.ErrorContains(t, err, want)
			}
		})
	}

	t.Run("unknown_key", func(t *testing.T) {
		sub, err := cm.Sub(component.NewIDWithName(metadata.Type, "unknown_key").String())
		require.NoError(t, err)
		assert.ErrorContains(t, sub.Unmarshal(NewFactory().CreateDefaultConfig()), "stale_after_intervals")
	})
}

func TestDefaults(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	assert.Equal(t, "localhost:6000", cfg.NetAddr.Endpoint)
	assert.Equal(t, 60*time.Second, cfg.ActiveWindow)
	assert.Equal(t, 3, cfg.StaleAfter)
	assert.NoError(t, confmap.Validate(cfg))
}
