package examples

import (
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	schema "github.com/kafkawake/kafkawake/internal/metadata"
)

// ---------------------------------------------------------------------------
// Metric names as the Prometheus exporter writes them

type exportedMetric struct {
	otelName  string
	promName  string
	enabled   bool
	processor bool // emitted by the slimfaaswake processor (carries `reason`)
}

// exportedMetrics derives the Prometheus names from metadata.yaml with the
// exporter's default translation (UnderscoreEscapingWithSuffixes): dots become
// underscores, unit `s` adds `_seconds`, `{...}` annotation units add
// nothing, monotonic sums add `_total`.
func exportedMetrics(t *testing.T) map[string]exportedMetric {
	t.Helper()
	conf, err := confmaptest.LoadConf(filepath.Join("..", "metadata.yaml"))
	require.NoError(t, err)
	metrics, ok := conf.ToStringMap()["metrics"].(map[string]any)
	require.True(t, ok, "metadata.yaml has no metrics")

	out := map[string]exportedMetric{}
	for name, v := range metrics {
		m := v.(map[string]any)
		prom := strings.ReplaceAll(name, ".", "_")
		switch unit, _ := m["unit"].(string); {
		case unit == "s":
			prom += "_seconds"
		case strings.HasPrefix(unit, "{") && strings.HasSuffix(unit, "}"):
		default:
			t.Fatalf("metric %s: unit %q: teach this test how the Prometheus exporter translates it", name, unit)
		}
		if sum, ok := m["sum"].(map[string]any); ok && sum["monotonic"] == true {
			prom += "_total"
		}
		enabled, _ := m["enabled"].(bool)
		attrs, _ := m["attributes"].([]any)
		out[prom] = exportedMetric{
			otelName:  name,
			promName:  prom,
			enabled:   enabled,
			processor: slices.Contains(attrs, any("reason")),
		}
	}
	return out
}

func TestExportedMetricNames(t *testing.T) {
	metrics := exportedMetrics(t)

	// The generated schema package and metadata.yaml agree.
	var generated []string
	v := reflect.ValueOf(schema.MetricsInfo)
	for i := range v.NumField() {
		generated = append(generated, v.Field(i).FieldByName("Name").String())
	}
	var fromYAML []string
	for _, m := range metrics {
		fromYAML = append(fromYAML, m.otelName)
	}
	assert.ElementsMatch(t, generated, fromYAML)

	// The Prometheus names of README.md#metrics, which SlimFaas/Scale queries
	// and dashboards rely on, come out of the mapping unchanged.
	for _, name := range []string{
		"slimfaaskafka_pending_messages",
		"slimfaaskafka_consumed_messages_total",
		"slimfaaskafka_last_activity_timestamp_seconds",
		"slimfaaskafka_pending_age_seconds",
		"slimfaaskafka_wakeups_total",
		"slimfaaskafka_wake_failures_total",
	} {
		m, ok := metrics[name]
		if assert.True(t, ok, "%s is not exported", name) {
			assert.True(t, m.enabled, "%s is disabled by default", name)
		}
	}
}
