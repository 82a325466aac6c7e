package kafkawakereceiver // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver"

import (
	"context"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/kafka/configkafka"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/scraper"
	"go.opentelemetry.io/collector/scraper/scraperhelper"

	schema "github.com/kafkawake/kafkawake/internal/metadata"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/logchange"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/metadata"
)

const (
	defaultClientID           = "otelcol-kafkawake"
	defaultCollectionInterval = 2 * time.Second
	defaultTimeout            = 5 * time.Second
	defaultShutdownTimeout    = 5 * time.Second

	defaultSessionTimeout    = 10 * time.Second
	defaultHeartbeatInterval = time.Second
)

// NewFactory creates the kafkawake receiver factory.
func NewFactory() receiver.Factory {
	return receiver.NewFactory(
		metadata.Type,
		createDefaultConfig,
		receiver.WithMetrics(createMetricsReceiver, metadata.MetricsStability),
	)
}

func createDefaultConfig() component.Config {
	controller := scraperhelper.NewDefaultControllerConfig()
	controller.CollectionInterval = defaultCollectionInterval
	controller.InitialDelay = 0
	controller.Timeout = defaultTimeout
	client := configkafka.NewDefaultClientConfig()
	client.ClientID = defaultClientID
	// No default broker: an observer pointed at localhost by mistake would
	// report errors instead of refusing to start.
	client.Brokers = nil
	return &Config{
		ControllerConfig:     controller,
		MetricsBuilderConfig: schema.DefaultMetricsBuilderConfig(),
		ClientConfig:         client,
		OffsetReset:          OffsetResetEarliest,
		IsolationLevel:       IsolationReadUncommitted,
		Coordination: configoptional.Default(CoordinationConfig{
			SessionTimeout:    defaultSessionTimeout,
			HeartbeatInterval: defaultHeartbeatInterval,
			Report:            ReportAll,
		}),
		PendingAge:      PendingAgeConfig{Method: PendingAgeEstimate},
		Watch:           defaultWatchConfig(),
		Scaling:         defaultScalingConfig(),
		ShutdownTimeout: defaultShutdownTimeout,
		Health:          HealthConfig{StallAfter: defaultStallAfter},
	}
}

func createMetricsReceiver(
	_ context.Context,
	set receiver.Settings,
	cfg component.Config,
	next consumer.Metrics,
) (receiver.Metrics, error) {
	rcfg := cfg.(*Config)
	return newMetricsReceiver(rcfg, set, next, newKafkaScraper(rcfg, set))
}

func newMetricsReceiver(cfg *Config, set receiver.Settings, next consumer.Metrics, s *kafkaScraper) (receiver.Metrics, error) {
	sc, err := scraper.NewMetrics(s.scrape, scraper.WithStart(s.start), scraper.WithShutdown(s.shutdown))
	if err != nil {
		return nil, err
	}
	controllerSet := set
	controllerSet.Logger = logchange.ChangesOnly(set.Logger)
	controller, err := scraperhelper.NewMetricsController(&cfg.ControllerConfig, controllerSet, next,
		scraperhelper.AddMetricsScraper(metadata.Type, sc))
	if err != nil || (!cfg.Watch.Enabled && !cfg.Coordination.HasValue()) {
		return controller, err
	}
	return newReportingReceiver(cfg, controller, s, next, set)
}
