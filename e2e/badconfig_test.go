//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// validConfig is a complete collector configuration as nested maps; JSON is
// YAML, so it is written as JSON.
func validConfig() map[string]any {
	return map[string]any{
		"receivers": map[string]any{"kafkawake": map[string]any{
			"brokers": []any{"127.0.0.1:9092"},
			"bindings": []any{
				map[string]any{"topic": "orders", "consumer_group": "orders-group", "function": "orders"},
			},
		}},
		"processors": map[string]any{"slimfaaswake": map[string]any{
			"endpoint": "http://127.0.0.1:5000",
		}},
		"exporters": map[string]any{"debug": map[string]any{}},
		"service": map[string]any{
			"telemetry": map[string]any{"metrics": map[string]any{"level": "none"}},
			"pipelines": map[string]any{"metrics": map[string]any{
				"receivers": []any{"kafkawake"}, "processors": []any{"slimfaaswake"}, "exporters": []any{"debug"},
			}},
		},
	}
}

func receiverOf(cfg map[string]any) map[string]any {
	return cfg["receivers"].(map[string]any)["kafkawake"].(map[string]any)
}

func processorOf(cfg map[string]any) map[string]any {
	return cfg["processors"].(map[string]any)["slimfaaswake"].(map[string]any)
}

func bindingOf(cfg map[string]any) map[string]any {
	return receiverOf(cfg)["bindings"].([]any)[0].(map[string]any)
}

func TestInvalidConfigsAreRejectedAtStartup(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(cfg map[string]any)
		wantErr string
	}{
		{"no brokers", func(c map[string]any) { receiverOf(c)["brokers"] = []any{} }, "brokers must be specified"},
		{"blank broker", func(c map[string]any) { receiverOf(c)["brokers"] = []any{"kafka:9092", ""} }, "brokers[1]: must not be empty"},
		{"no bindings", func(c map[string]any) { receiverOf(c)["bindings"] = []any{} }, "bindings: must list at least one binding"},
		{"binding without topic", func(c map[string]any) { delete(bindingOf(c), "topic") }, "bindings[0].topic: must not be empty"},
		{"binding without consumer group", func(c map[string]any) { bindingOf(c)["consumer_group"] = " " }, "bindings[0]: needs consumer_group (a consumer group) or share_group"},
		{"binding without function", func(c map[string]any) { delete(bindingOf(c), "function") }, "bindings[0].function: must not be empty"},
		{"duplicate binding", func(c map[string]any) {
			receiverOf(c)["bindings"] = append(receiverOf(c)["bindings"].([]any), bindingOf(c))
		}, "bindings[1]: duplicates bindings[0]"},
		{"zero timeout", func(c map[string]any) { receiverOf(c)["timeout"] = "0s" }, "timeout: must be positive"},
		{"negative timeout", func(c map[string]any) { receiverOf(c)["timeout"] = "-1s" }, "timeout: must be positive"},
		{"zero collection interval", func(c map[string]any) { receiverOf(c)["collection_interval"] = "0s" }, "collection_interval"},
		{"unknown offset_reset", func(c map[string]any) { receiverOf(c)["offset_reset"] = "newest" }, `offset_reset: must be "earliest" or "latest"`},
		{"unknown isolation_level", func(c map[string]any) { receiverOf(c)["isolation_level"] = "serializable" }, "isolation_level: must be"},
		{"unknown pending_age.method", func(c map[string]any) { receiverOf(c)["pending_age"] = map[string]any{"method": "exact"} }, "pending_age.method: must be"},
		{"unknown SASL mechanism", func(c map[string]any) {
			receiverOf(c)["auth"] = map[string]any{"sasl": map[string]any{"mechanism": "GSSAPI", "username": "u", "password": "p"}}
		}, "auth::sasl: mechanism should be one of"},
		{"SASL without username", func(c map[string]any) {
			receiverOf(c)["auth"] = map[string]any{"sasl": map[string]any{"mechanism": "PLAIN", "password": "p"}}
		}, "auth::sasl: username is required"},
		{"SASL without password", func(c map[string]any) {
			receiverOf(c)["auth"] = map[string]any{"sasl": map[string]any{"mechanism": "SCRAM-SHA-512", "username": "u"}}
		}, "auth::sasl: password is required"},
		{"MSK IAM without region", func(c map[string]any) {
			receiverOf(c)["auth"] = map[string]any{"sasl": map[string]any{"mechanism": "AWS_MSK_IAM_OAUTHBEARER"}}
		}, "region is required for AWS_MSK_IAM_OAUTHBEARER"},
		{"kerberos", func(c map[string]any) {
			receiverOf(c)["auth"] = map[string]any{"kerberos": map[string]any{"service_name": "kafka", "realm": "EXAMPLE.COM"}}
		}, "auth.kerberos: not supported by the kafkawake receiver"},
		{"old top-level sasl", func(c map[string]any) {
			receiverOf(c)["sasl"] = map[string]any{"mechanism": "PLAIN", "username": "u", "password": "p"}
		}, "sasl: moved to auth.sasl"},
		{"unknown protocol_version", func(c map[string]any) { receiverOf(c)["protocol_version"] = "0.7.x" }, "invalid protocol version"},
		{"unknown receiver key", func(c map[string]any) { receiverOf(c)["topic_regex"] = ".*" }, "topic_regex"},
		{"bindings not a list", func(c map[string]any) { receiverOf(c)["bindings"] = "orders" }, "bindings"},
		{"processor endpoint without scheme", func(c map[string]any) { processorOf(c)["endpoint"] = "slimfaas:5000" }, "endpoint: must be an absolute http(s) URL"},
		{"processor zero timeout", func(c map[string]any) { processorOf(c)["timeout"] = "0s" }, "timeout: must be positive"},
		{"wake_path without placeholder", func(c map[string]any) { processorOf(c)["wake_path"] = "/wake-function/fibonacci" }, "wake_path: must contain {functionName}"},
		{"wake_path not absolute", func(c map[string]any) { processorOf(c)["wake_path"] = "wake-function/{functionName}" }, "wake_path: must start with /"},
		{"min_pending_messages zero", func(c map[string]any) {
			processorOf(c)["defaults"] = map[string]any{"min_pending_messages": 0}
		}, "defaults.min_pending_messages: must be at least 1"},
		{"negative cooldown", func(c map[string]any) { processorOf(c)["defaults"] = map[string]any{"cooldown": "-5s"} }, "defaults.cooldown: must not be negative"},
		{"negative keep-alive", func(c map[string]any) {
			processorOf(c)["defaults"] = map[string]any{"activity_keep_alive": "-1m"}
		}, "defaults.activity_keep_alive: must not be negative"},
		{"min_consumed_delta zero", func(c map[string]any) {
			processorOf(c)["defaults"] = map[string]any{"min_consumed_delta": 0}
		}, "defaults.min_consumed_delta: must be at least 1"},
		{"cooldown not a duration", func(c map[string]any) { processorOf(c)["defaults"] = map[string]any{"cooldown": "soon"} }, "cooldown"},
		{"invalid function override", func(c map[string]any) {
			processorOf(c)["functions"] = map[string]any{"orders": map[string]any{"cooldown": "-1s"}}
		}, "functions[orders].cooldown: must not be negative"},
		{"retry multiplier below 1", func(c map[string]any) {
			processorOf(c)["retry_on_failure"] = map[string]any{"multiplier": 0.5}
		}, "retry_on_failure.multiplier"},
		{"unknown processor key", func(c map[string]any) { processorOf(c)["wake_url"] = "http://x" }, "wake_url"},
		// confighttp v1.71 moved these under keepalive:.
		{"flat max_idle_conns_per_host", func(c map[string]any) { processorOf(c)["max_idle_conns_per_host"] = 8 }, "invalid keys: max_idle_conns_per_host"},
		{"flat idle_conn_timeout", func(c map[string]any) { processorOf(c)["idle_conn_timeout"] = "90s" }, "invalid keys: idle_conn_timeout"},
		{"flat max_idle_conns", func(c map[string]any) { processorOf(c)["max_idle_conns"] = 100 }, "invalid keys: max_idle_conns"},
		{"flat disable_keep_alives", func(c map[string]any) { processorOf(c)["disable_keep_alives"] = true }, "invalid keys: disable_keep_alives"},
	}
	require.GreaterOrEqual(t, len(tests), 25)

	binary := collectorBinary(t)
	write := func(t *testing.T, cfg map[string]any) string {
		data, err := json.Marshal(cfg)
		require.NoError(t, err)
		path := filepath.Join(t.TempDir(), "config.yaml")
		require.NoError(t, os.WriteFile(path, data, 0o600))
		return path
	}
	run := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, binary, args...).CombinedOutput()
		return string(out), err
	}

	out, err := run("validate", "--config", write(t, validConfig()))
	require.NoError(t, err, "the base configuration must be valid: %s", out)

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validConfig()
			tt.mutate(cfg)
			path := write(t, cfg)

			out, err := run("validate", "--config", path)
			require.Error(t, err, "validate accepted it")
			assert.Contains(t, out, tt.wantErr)

			out, err = run("--config", path)
			require.Error(t, err, "the collector started")
			assert.Contains(t, out, tt.wantErr)
		})
	}
}
