package kedascalerexporter // import "github.com/kafkawake/kafkawake/exporter/kedascalerexporter"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/kafkawake/kafkawake/exporter/kedascalerexporter/internal/metadata"
)

const (
	// defaultEndpoint listens on localhost only, as the collector's own
	// receivers do; a cluster deployment sets 0.0.0.0:6000.
	defaultEndpoint     = "localhost:6000"
	defaultActiveWindow = 60 * time.Second
	defaultStaleAfter   = 3
)

// NewFactory creates the kedascaler exporter factory.
func NewFactory() exporter.Factory {
	return exporter.NewFactory(
		metadata.Type,
		createDefaultConfig,
		exporter.WithMetrics(createMetricsExporter, metadata.MetricsStability),
	)
}

func createDefaultConfig() component.Config {
	server := configgrpc.NewDefaultServerConfig()
	server.NetAddr.Endpoint = defaultEndpoint
	return &Config{
		ServerConfig: server,
		ActiveWindow: defaultActiveWindow,
		StaleAfter:   defaultStaleAfter,
	}
}

func createMetricsExporter(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Metrics, error) {
	e := newScalerExporter(cfg.(*Config), set.TelemetrySettings, time.Now)
	return exporterhelper.NewMetrics(ctx, set, cfg, e.consumeMetrics,
		exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
		exporterhelper.WithStart(e.start),
		exporterhelper.WithShutdown(e.shutdown),
		// The state is updated in memory at once: no timeout, queue or retry.
		exporterhelper.WithTimeout(exporterhelper.TimeoutConfig{}),
	)
}
