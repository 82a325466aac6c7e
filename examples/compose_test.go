package examples

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDockerCompose(t *testing.T) {
	docs := parseYAMLDocs(t, filepath.Join("docker-compose", "docker-compose.yml"))
	require.Len(t, docs, 1)
	services, _ := docs[0].raw["services"].(map[string]any)
	require.NotNil(t, services)

	collector := parseYAMLDocs(t, filepath.Join("docker-compose", "collector.yaml"))[0].raw
	port := exporterPort(t, collector)

	// Prometheus scrapes the exporter of every collector replica: the
	// compose name resolves to all of them.
	prom := parseYAMLDocs(t, filepath.Join("docker-compose", "prometheus.yml"))[0].raw
	data, err := json.Marshal(prom)
	require.NoError(t, err)
	assert.Contains(t, string(data), `"dns_sd_configs":[{"names":["otelcol-kafkawake"],"port":`+port+`,"type":"A"}]`)
	svc, _ := services["otelcol-kafkawake"].(map[string]any)
	deploy, _ := svc["deploy"].(map[string]any)
	if replicas, _ := deploy["replicas"].(int); replicas > 1 {
		checkSharedBindings(t, collector)
	}
	assert.Equal(t, 2, deploy["replicas"], "the example runs two replicas")

	// Every bound function is a container whose `app` label carries that name:
	// under SlimFaas's Docker orchestrator the label is the function name.
	recv, _ := collector["receivers"].(map[string]any)
	kw, _ := recv["kafkawake"].(map[string]any)
	bindings, _ := kw["bindings"].([]any)
	require.NotEmpty(t, bindings)
	for _, b := range bindings {
		fn := fmt.Sprint(b.(map[string]any)["function"])
		found := false
		for _, s := range services {
			labels, _ := s.(map[string]any)["labels"].(map[string]any)
			if labels["app"] == fn && labels["SlimFaas/Function"] == "true" {
				found = true
			}
		}
		assert.True(t, found, "binding function %q is no SlimFaas function's app label", fn)
	}

	// Kafka advertises its compose name, not localhost.
	kafka, _ := services["kafka"].(map[string]any)
	env, _ := kafka["environment"].(map[string]any)
	adv := fmt.Sprint(env["KAFKA_ADVERTISED_LISTENERS"])
	assert.Contains(t, adv, "kafka:9092")
	assert.NotContains(t, adv, "localhost")
	brokers, _ := kw["brokers"].([]any)
	assert.Equal(t, []any{"kafka:9092"}, brokers)
}
