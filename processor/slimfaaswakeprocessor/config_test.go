package slimfaaswakeprocessor

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/kafkawake/kafkawake/processor/slimfaaswakeprocessor/internal/metadata"
)

func ptr[T any](v T) *T { return &v }

func TestLoadConfig(t *testing.T) {
	custom := createDefaultConfig().(*Config)
	custom.ClientConfig.Endpoint = "http://slimfaas:30021"
	custom.ClientConfig.Timeout = 3 * time.Second
	custom.ClientConfig.Headers = configopaque.MapList{{Name: "X-Wake-Source", Value: "kafkawake"}}
	custom.DryRun = true
	custom.Defaults = WakeRules{MinPendingMessages: 5, Cooldown: 20 * time.Second, ActivityKeepAlive: 0, MinConsumedDelta: 10}
	custom.RetryOnFailure.InitialInterval = 500 * time.Millisecond
	custom.RetryOnFailure.MaxInterval = 5 * time.Second
	custom.RetryOnFailure.MaxElapsedTime = 15 * time.Second
	custom.BindingExpiry = 10 * time.Minute
	custom.Functions = map[string]WakeRuleOverrides{
		"fibonaccilistener": {Cooldown: ptr(10 * time.Second)},
		"orders":            {MinPendingMessages: ptr(int64(100)), ActivityKeepAlive: ptr(2 * time.Minute)},
	}

	tests := []struct {
		name     string
		expected *Config
		// wantErrs are substrings the validation error must contain.
		wantErrs []string
	}{
		{name: "", expected: createDefaultConfig().(*Config)},
		{name: "custom", expected: custom},
		{name: "bad_endpoint", wantErrs: []string{`endpoint: must be an absolute http(s) URL with a host, got "slimfaas:5000"`}},
		{name: "endpoint_with_query", wantErrs: []string{`endpoint: must not have a query (the wake path is appended to it), got "http://slimfaas:5000/?token=x"`}},
		{name: "bad_binding_expiry", wantErrs: []string{"binding_expiry: must be positive, got 0s"}},
		{name: "bad_wake_path", wantErrs: []string{"wake_path: must contain {functionName}"}},
		{name: "zero_timeout", wantErrs: []string{"timeout: must be positive"}},
		{name: "bad_defaults", wantErrs: []string{
			"defaults.min_pending_messages: must be at least 1",
			"defaults.cooldown: must not be negative",
			"defaults.activity_keep_alive: must not be negative",
			"defaults.min_consumed_delta: must be at least 1",
		}},
		{name: "bad_retry", wantErrs: []string{
			"retry_on_failure.initial_interval: must be positive when retries are enabled",
			"retry_on_failure.multiplier: must be at least 1",
			"randomization_factor value must be less than or equal to 1",
		}},
		{name: "bad_retry_interval", wantErrs: []string{
			"retry_on_failure.max_interval: must not be less than initial_interval (2s), got 1s",
		}},
		{name: "relative_wake_path", wantErrs: []string{`wake_path: must start with /, got "wake-function/{functionName}"`}},
		{name: "bad_override", wantErrs: []string{
			"functions[fibonaccilistener].min_pending_messages: must be at least 1",
			"functions[orders].cooldown: must not be negative",
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
			require.Error(t, err)
			for _, want := range tt.wantErrs {
				assert.ErrorContains(t, err, want)
			}
		})
	}
}

func TestEndpointValidation(t *testing.T) {
	tests := []struct {
		endpoint string
		// wantErr is empty for a valid endpoint.
		wantErr string
	}{
		{"http://slimfaas:5000", ""},
		{"https://slimfaas.example:443/base/", ""},
		{"http://[::1]:5000", ""},
		{"http://slimfaas:5000/?token=x", "must not have a query"},
		{"http://slimfaas:5000?", "must not have a query"},
		{"http://slimfaas:5000/#top", "must not have a fragment"},
		{"http://slimfaas:5000#", "must not have a fragment"},
		{"slimfaas:5000", "must be an absolute http(s) URL with a host"},
		{"//slimfaas:5000", "must be an absolute http(s) URL with a host"},
		{"ftp://slimfaas:5000", "must be an absolute http(s) URL with a host"},
		{"http:///wake", "must be an absolute http(s) URL with a host"},
		{"http:slimfaas", "must be an absolute http(s) URL with a host"},
		{"", "must be an absolute http(s) URL with a host"},
		{"http://slim faas:5000", "must be an absolute http(s) URL"},
	}
	for _, tt := range tests {
		cfg := createDefaultConfig().(*Config)
		cfg.ClientConfig.Endpoint = tt.endpoint
		err := cfg.Validate()
		if tt.wantErr == "" {
			assert.NoError(t, err, tt.endpoint)
			continue
		}
		if assert.Error(t, err, tt.endpoint) {
			assert.ErrorContains(t, err, "endpoint: "+tt.wantErr, tt.endpoint)
		}
	}
}

func TestRulesFor(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Functions = map[string]WakeRuleOverrides{
		"fibonaccilistener": {Cooldown: ptr(10 * time.Second), MinConsumedDelta: ptr(int64(3))},
	}

	assert.Equal(t, cfg.Defaults, cfg.rulesFor("other"))

	overridden := cfg.rulesFor("fibonaccilistener")
	assert.Equal(t, 10*time.Second, overridden.Cooldown)
	assert.Equal(t, int64(3), overridden.MinConsumedDelta)
	assert.Equal(t, cfg.Defaults.MinPendingMessages, overridden.MinPendingMessages)
	assert.Equal(t, cfg.Defaults.ActivityKeepAlive, overridden.ActivityKeepAlive)
}

func TestRetryWindow(t *testing.T) {
	rules := WakeRules{Cooldown: 30 * time.Second}
	cfg := createDefaultConfig().(*Config)
	assert.Equal(t, 30*time.Second, retryWindow(cfg.RetryOnFailure, rules), "bounded by the cooldown by default")

	cfg.RetryOnFailure.MaxElapsedTime = 12 * time.Second
	assert.Equal(t, 12*time.Second, retryWindow(cfg.RetryOnFailure, rules), "max_elapsed_time when shorter")
	cfg.RetryOnFailure.MaxElapsedTime = time.Minute
	assert.Equal(t, 30*time.Second, retryWindow(cfg.RetryOnFailure, rules), "never beyond the cooldown")

	cfg.RetryOnFailure.Enabled = false
	assert.Zero(t, retryWindow(cfg.RetryOnFailure, rules))
}

func TestWakeURL(t *testing.T) {
	tests := []struct {
		endpoint, wakePath, function, want string
	}{
		{"http://slimfaas:5000", defaultWakePath, "fibonaccilistener", "http://slimfaas:5000/wake-function/fibonaccilistener"},
		{"http://slimfaas:5000/", defaultWakePath, "fibonaccilistener", "http://slimfaas:5000/wake-function/fibonaccilistener"},
		{"https://gw.example/slimfaas", "/api/{functionName}/wake", "a b/c", "https://gw.example/slimfaas/api/a%20b%2Fc/wake"},
	}
	for _, tt := range tests {
		cfg := createDefaultConfig().(*Config)
		cfg.ClientConfig.Endpoint = tt.endpoint
		cfg.WakePath = tt.wakePath
		assert.Equal(t, tt.want, cfg.wakeURL(tt.function))
	}
}

func TestUnknownKeysAreRejected(t *testing.T) {
	tests := []struct {
		name    string
		raw     map[string]any
		wantErr string
	}{
		{"top-level typo", map[string]any{"wake_url": "http://x"}, "wake_url"},
		{"typo in defaults", map[string]any{"defaults": map[string]any{"coolddown": "3s"}}, "coolddown"},
		{"typo in a function override", map[string]any{"functions": map[string]any{"orders": map[string]any{"keep_alive": "1m"}}}, "keep_alive"},
		{"typo in retry_on_failure", map[string]any{"retry_on_failure": map[string]any{"max_intervall": "1s"}}, "max_intervall"},
		{"typo next to HTTP client keys", map[string]any{"endpoint": "http://slimfaas:5000", "timout": "1s"}, "timout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := confmap.NewFromStringMap(tt.raw).Unmarshal(createDefaultConfig())
			require.Error(t, err)
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}

	// The HTTP client's own keys, and every known key, still decode.
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, confmap.NewFromStringMap(map[string]any{
		"endpoint": "https://slimfaas:5000", "timeout": "3s", "headers": map[string]any{"Authorization": "Bearer t"},
		"tls": map[string]any{"insecure_skip_verify": true}, "wake_path": "/wake-function/{functionName}",
		"dry_run": true, "defaults": map[string]any{"cooldown": "5s"},
		"functions":        map[string]any{"orders": map[string]any{"min_pending_messages": 3}},
		"retry_on_failure": map[string]any{"max_interval": "5s"}, "binding_expiry": "2m",
	}).Unmarshal(cfg))
	assert.Equal(t, 2*time.Minute, cfg.BindingExpiry)
	assert.Equal(t, 3*time.Second, cfg.ClientConfig.Timeout)
	assert.True(t, cfg.ClientConfig.TLS.InsecureSkipVerify)
	assert.Equal(t, 5*time.Second, cfg.Defaults.Cooldown)
	assert.Equal(t, int64(3), *cfg.Functions["orders"].MinPendingMessages)
	assert.True(t, cfg.DryRun)
}
