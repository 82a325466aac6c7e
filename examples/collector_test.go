package examples

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"

	"github.com/kafkawake/kafkawake/processor/slimfaaswakeprocessor"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver"
)

// ---------------------------------------------------------------------------
// Collector configurations

func TestCollectorConfigsLoadIntoComponentConfigs(t *testing.T) {
	configs := collectorConfigs(t)
	var names []string
	for _, c := range configs {
		names = append(names, c.name)
	}
	// Discovery must not silently miss an example.
	for _, want := range []string{
		filepath.Join("local", "config.yaml"),
		filepath.Join("docker-compose", "collector.yaml"),
		"configmap/otelcol-kafkawake:config.yaml",
		"configmap/fibonacci-kafka-listener-kafkawake:config.yaml",
	} {
		assert.Contains(t, names, want)
	}

	recvFactory := kafkawakereceiver.NewFactory()
	procFactory := slimfaaswakeprocessor.NewFactory()
	for _, c := range configs {
		t.Run(c.name, func(t *testing.T) {
			raw := resolveEnv(t, c.name, c.raw).(map[string]any)
			conf := confmap.NewFromStringMap(raw)

			recvKeys := componentKeys(raw, "receivers", recvFactory.Type().String())
			require.NotEmpty(t, recvKeys, "no kafkawake receiver")
			for _, key := range recvKeys {
				sub, err := conf.Sub("receivers::" + key)
				require.NoError(t, err)
				cfg := recvFactory.CreateDefaultConfig()
				require.NoError(t, sub.Unmarshal(cfg), "receivers::%s", key)
				assert.NoError(t, confmap.Validate(cfg), "receivers::%s", key)
			}
			// The processor is optional: a metrics-only sidecar has none.
			for _, key := range componentKeys(raw, "processors", procFactory.Type().String()) {
				sub, err := conf.Sub("processors::" + key)
				require.NoError(t, err)
				cfg := procFactory.CreateDefaultConfig()
				require.NoError(t, sub.Unmarshal(cfg), "processors::%s", key)
				assert.NoError(t, confmap.Validate(cfg), "processors::%s", key)
			}
			checkServiceReferences(t, raw)
		})
	}
}

// checkServiceReferences checks that every component a pipeline or the
// service names is defined, and that kafkawake feeds a pipeline.
func checkServiceReferences(t *testing.T, raw map[string]any) {
	t.Helper()
	service, _ := raw["service"].(map[string]any)
	require.NotNil(t, service, "no service section")
	defined := func(section, id string) bool {
		m, _ := raw[section].(map[string]any)
		_, ok := m[id]
		return ok
	}
	exts, _ := service["extensions"].([]any)
	for _, e := range exts {
		assert.True(t, defined("extensions", fmt.Sprint(e)), "service.extensions: %v is not defined", e)
	}
	pipelines, _ := service["pipelines"].(map[string]any)
	require.NotEmpty(t, pipelines, "no pipelines")
	usesReceiver := false
	for name, p := range pipelines {
		pm, _ := p.(map[string]any)
		for _, section := range []string{"receivers", "processors", "exporters"} {
			ids, _ := pm[section].([]any)
			for _, id := range ids {
				assert.True(t, defined(section, fmt.Sprint(id)), "pipeline %s: %s %v is not defined", name, section, id)
				if section == "receivers" && strings.HasPrefix(fmt.Sprint(id), "kafkawake") {
					usesReceiver = true
				}
			}
		}
	}
	assert.True(t, usesReceiver, "no pipeline uses the kafkawake receiver")
}

// exporterPort returns the port of the collector's prometheus exporter.
func exporterPort(t *testing.T, raw map[string]any) string {
	t.Helper()
	exporters, _ := raw["exporters"].(map[string]any)
	prom, _ := exporters["prometheus"].(map[string]any)
	endpoint, _ := prom["endpoint"].(string)
	_, port, err := net.SplitHostPort(endpoint)
	require.NoError(t, err, "prometheus exporter endpoint %q", endpoint)
	return port
}

// coordinationGroup is the kafkawake receiver's coordination group, "" when
// the collector observes every binding on its own.
func coordinationGroup(raw map[string]any) string {
	receivers, _ := raw["receivers"].(map[string]any)
	kw, _ := receivers["kafkawake"].(map[string]any)
	coordination, _ := kw["coordination"].(map[string]any)
	group, _ := coordination["group"].(string)
	return group
}

// checkSharedBindings checks what replicas sharing their bindings need: a
// coordination group, and an exporter that forgets the series of a binding
// that moved away within a few collection intervals.
func checkSharedBindings(t *testing.T, raw map[string]any) {
	t.Helper()
	assert.NotEmpty(t, coordinationGroup(raw), "replicas of a waking collector must share the bindings through receivers.kafkawake.coordination.group")
	exporters, _ := raw["exporters"].(map[string]any)
	prom, _ := exporters["prometheus"].(map[string]any)
	expiration, _ := prom["metric_expiration"].(string)
	receivers, _ := raw["receivers"].(map[string]any)
	kw, _ := receivers["kafkawake"].(map[string]any)
	interval, _ := kw["collection_interval"].(string)
	if interval == "" {
		interval = "2s"
	}
	e, err := time.ParseDuration(expiration)
	require.NoError(t, err, "the prometheus exporter needs a metric_expiration, so a replica stops serving a binding it lost")
	i, err := time.ParseDuration(interval)
	require.NoError(t, err)
	assert.LessOrEqual(t, e, 10*i, "metric_expiration %s is more than a few collection intervals (%s)", e, i)
}

// hasWakeProcessor says whether some pipeline runs the slimfaaswake processor.
func hasWakeProcessor(raw map[string]any) bool {
	service, _ := raw["service"].(map[string]any)
	pipelines, _ := service["pipelines"].(map[string]any)
	for _, p := range pipelines {
		if pipelineWakes(p) {
			return true
		}
	}
	return false
}

// pipelineWakes says whether a pipeline runs the slimfaaswake processor.
func pipelineWakes(pipeline any) bool {
	pm, _ := pipeline.(map[string]any)
	ids, _ := pm["processors"].([]any)
	for _, id := range ids {
		if strings.HasPrefix(fmt.Sprint(id), "slimfaaswake") {
			return true
		}
	}
	return false
}

// boundFunctions returns every function a kafkawake receiver of the config
// binds and feeds to a pipeline, and whether one of those pipelines runs the
// slimfaaswake processor, that is whether the collector wakes it.
func boundFunctions(raw map[string]any) map[string]bool {
	receivers, _ := raw["receivers"].(map[string]any)
	service, _ := raw["service"].(map[string]any)
	pipelines, _ := service["pipelines"].(map[string]any)
	woken := map[string]bool{}
	for _, p := range pipelines {
		pm, _ := p.(map[string]any)
		wakes := pipelineWakes(pm)
		ids, _ := pm["receivers"].([]any)
		for _, id := range ids {
			recv, _ := receivers[fmt.Sprint(id)].(map[string]any)
			bindings, _ := recv["bindings"].([]any)
			for _, b := range bindings {
				bm, _ := b.(map[string]any)
				if fn, ok := bm["function"].(string); ok {
					woken[fn] = woken[fn] || wakes
				}
			}
		}
	}
	return woken
}
