//go:build e2e

package examples

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBuiltCollectorValidatesEveryExample runs `otelcol-kafkawake validate`
// of the binary that `make test-e2e` builds on every collector configuration
// of the examples, ConfigMap entries included, with the environment the
// examples document: what loads into the component configs must also pass
// the distribution's own checks (components present, pipelines, extensions,
// the collector-level keys).
func TestBuiltCollectorValidatesEveryExample(t *testing.T) {
	binary := os.Getenv("KAFKAWAKE_COLLECTOR")
	require.NotEmpty(t, binary, "KAFKAWAKE_COLLECTOR is not set: run these tests with `make test-e2e`, which builds the collector")
	env := os.Environ()
	for name, value := range exampleEnv {
		env = append(env, name+"="+value)
	}

	configs := collectorConfigs(t)
	require.NotEmpty(t, configs)
	for _, c := range configs {
		t.Run(c.name, func(t *testing.T) {
			// JSON is YAML; ${env:...} references stay for the collector to
			// resolve from env.
			data, err := json.Marshal(c.raw)
			require.NoError(t, err)
			path := filepath.Join(t.TempDir(), "config.yaml")
			require.NoError(t, os.WriteFile(path, data, 0o600))

			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary, "validate", "--config", path)
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			assert.NoError(t, err, "validate rejected %s:\n%s", c.name, out)
			assert.NotContains(t, strings.ToLower(string(out)), "error", "validate complained about %s", c.name)
		})
	}
}
