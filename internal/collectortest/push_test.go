package collectortest

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestOTLPPushReplacesThePrometheusExporterOnly(t *testing.T) {
	config := `receivers:
  kafkawake:
    brokers: [127.0.0.1:9092]
processors:
  slimfaaswake:
    endpoint: http://127.0.0.1:1
exporters:
  prometheus:
    endpoint: 127.0.0.1:9999
extensions:
  pprof:
    endpoint: 127.0.0.1:6060
service:
  extensions: [pprof]
  pipelines:
    metrics:
      receivers: [kafkawake]
      processors: [slimfaaswake]
      exporters: [prometheus]
`
	got := WithOTLPPush(config, "127.0.0.1:4317", 50)

	assert.NotContains(t, got, "prometheus")
	assert.NotContains(t, got, "9999")
	assert.Contains(t, got, "exporters:\n  otlp_grpc:\n    endpoint: 127.0.0.1:4317\n    tls:\n      insecure: true\n    sending_queue:\n      num_consumers: 2\nextensions:\n  pprof:\n")
	assert.Contains(t, got, "exporters: [otlp_grpc]")
	assert.Contains(t, got, "  extensions: [pprof]\n")
	assert.Contains(t, got, "processors:\n  batch:\n    send_batch_size: 50\n    send_batch_max_size: 50\n  slimfaaswake:\n")
	assert.Contains(t, got, "processors: [slimfaaswake, batch]")
}
