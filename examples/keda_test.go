package examples

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"

	"github.com/kafkawake/kafkawake/exporter/kedascalerexporter"
)

// TestKedaScaledObjects checks examples/kubernetes/keda-scaledobjects.yaml:
// every ScaledObject's trigger reaches a Service port on which a collector
// configuration serves the kedascaler exporter, selects a binding that
// collector reports, and has a fallback for the collector's errors.
func TestKedaScaledObjects(t *testing.T) {
	path := filepath.Join("kubernetes", "keda-scaledobjects.yaml")
	docs := parseYAMLDocs(t, path)

	servicePorts := map[string][]string{} // "name.namespace" -> ports
	var scaledObjects []map[string]any
	for _, doc := range docs {
		meta, _ := doc.raw["metadata"].(map[string]any)
		switch doc.raw["kind"] {
		case "Service":
			spec, _ := doc.raw["spec"].(map[string]any)
			ports, _ := spec["ports"].([]any)
			host := fmt.Sprintf("%s.%s", meta["name"], meta["namespace"])
			for _, p := range ports {
				servicePorts[host] = append(servicePorts[host], fmt.Sprint(p.(map[string]any)["port"]))
			}
		case "ScaledObject":
			scaledObjects = append(scaledObjects, doc.raw)
		}
	}
	require.Len(t, scaledObjects, 2, "one for a consumer group, one for a share group")

	// The collector configuration in the same file.
	var keda map[string]any
	for _, c := range collectorConfigs(t) {
		if c.name == "configmap/otelcol-kafkawake-keda:config.yaml" {
			keda = resolveEnv(t, c.name, c.raw).(map[string]any)
		}
	}
	require.NotNil(t, keda, "the kedascaler collector configuration")
	conf := confmap.NewFromStringMap(keda)
	sub, err := conf.Sub("exporters::kedascaler")
	require.NoError(t, err)
	cfg := kedascalerexporter.NewFactory().CreateDefaultConfig()
	require.NoError(t, sub.Unmarshal(cfg))
	require.NoError(t, confmap.Validate(cfg))
	endpoint, _ := sub.Get("endpoint").(string)
	_, port, err := net.SplitHostPort(endpoint)
	require.NoError(t, err)
	pipeline, _ := conf.Get("service::pipelines::metrics::exporters").([]any)
	assert.Contains(t, pipeline, "kedascaler", "the exporter must be in the metrics pipeline")

	bindings, _ := conf.Get("receivers::kafkawake::bindings").([]any)
	reported := func(key, value string) bool {
		field := map[string]string{"function": "function", "topic": "topic", "group": "consumer_group"}[key]
		for _, b := range bindings {
			if fmt.Sprint(b.(map[string]any)[field]) == value {
				return true
			}
		}
		return false
	}

	for _, so := range scaledObjects {
		name := so["metadata"].(map[string]any)["name"]
		spec := so["spec"].(map[string]any)
		fallback, _ := spec["fallback"].(map[string]any)
		assert.NotEmpty(t, fallback["replicas"], "%s: a fallback applies while the collector answers NOT_FOUND or UNAVAILABLE", name)
		triggers, _ := spec["triggers"].([]any)
		require.NotEmpty(t, triggers, "%s", name)
		for _, tr := range triggers {
			trig := tr.(map[string]any)
			assert.Equal(t, "external-push", trig["type"], "%s", name)
			md := trig["metadata"].(map[string]any)
			host, p, err := net.SplitHostPort(fmt.Sprint(md["scalerAddress"]))
			require.NoError(t, err, "%s: scalerAddress", name)
			service := strings.TrimSuffix(host, ".svc.cluster.local")
			assert.Contains(t, servicePorts[service], p, "%s: scalerAddress must be a Service port", name)
			assert.Equal(t, port, p, "%s: the Service port must be the exporter's", name)
			if fn, ok := md["function"]; ok {
				assert.True(t, reported("function", fmt.Sprint(fn)), "%s: no binding of function %v", name, fn)
			} else {
				assert.True(t, reported("topic", fmt.Sprint(md["topic"])), "%s: no binding of topic %v", name, md["topic"])
				assert.True(t, reported("group", fmt.Sprint(md["group"])), "%s: no binding of group %v", name, md["group"])
			}
		}
	}
}
