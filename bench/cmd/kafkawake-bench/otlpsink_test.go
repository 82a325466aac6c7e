package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestOTLPPushReplacesThePrometheusExporterOnly(t *testing.T) {
	config := withPprof(collectorConfig([]string{"127.0.0.1:9092"}, time.Second, "http://127.0.0.1:1", "30s", 9999,
		[]binding{{topic: "t", group: "g", function: "f"}}), 6060)
	got := withOTLPPush(config, "127.0.0.1:4317")

	assert.NotContains(t, got, "prometheus")
	assert.NotContains(t, got, "9999")
	assert.Contains(t, got, "exporters:\n  otlp_grpc:\n    endpoint: 127.0.0.1:4317\n    tls:\n      insecure: true\nextensions:\n  pprof:\n")
	assert.Contains(t, got, "exporters: [otlp_grpc]")
	assert.Contains(t, got, "  extensions: [pprof]\n")
	assert.Contains(t, got, "processors:\n  batch:\n    send_batch_size: 10000\n    send_batch_max_size: 10000\n  slimfaaswake:\n")
	assert.Contains(t, got, "processors: [slimfaaswake, batch]")
}
