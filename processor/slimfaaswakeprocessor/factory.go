package slimfaaswakeprocessor // import "github.com/kafkawake/kafkawake/processor/slimfaaswakeprocessor"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/kafkawake/kafkawake/processor/slimfaaswakeprocessor/internal/metadata"
)

const (
	defaultEndpoint           = "http://slimfaas:5000"
	defaultTimeout            = 10 * time.Second
	defaultWakePath           = "/wake-function/" + functionNamePlaceholder
	defaultMinPendingMessages = 1
	defaultCooldown           = 30 * time.Second
	defaultActivityKeepAlive  = 60 * time.Second
	defaultMinConsumedDelta   = 1
	// The Prometheus exporter's default metric_expiration: a binding another
	// replica took over is forgotten here as its series age out there.
	defaultBindingExpiry = 5 * time.Minute

	// Retries fit in the default cooldown: 1s, 1.5s, 2.25s... capped at 10s.
	defaultRetryInitialInterval = time.Second
	defaultRetryMaxInterval     = 10 * time.Second
)

// NewFactory creates the slimfaaswake processor factory.
func NewFactory() processor.Factory {
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithMetrics(createMetricsProcessor, metadata.MetricsStability),
	)
}

func createDefaultConfig() component.Config {
	client := confighttp.NewDefaultClientConfig()
	client.Endpoint = defaultEndpoint
	client.Timeout = defaultTimeout
	// Keep the connections of a burst of wakes (many cooldowns ending
	// together) open for the next one; net/http alone keeps 2 per host and
	// confighttp 100 in total.
	if keepalive := client.Keepalive.Get(); keepalive != nil {
		keepalive.MaxIdleConnsPerHost = idleConnsPerHost
		keepalive.MaxIdleConns = max(keepalive.MaxIdleConns, idleConnsPerHost)
	}
	retry := configretry.NewDefaultBackOffConfig()
	retry.InitialInterval = defaultRetryInitialInterval
	retry.MaxInterval = defaultRetryMaxInterval
	// Zero: retries are bounded by each function's cooldown instead.
	retry.MaxElapsedTime = 0
	return &Config{
		ClientConfig: client,
		WakeConfig: WakeConfig{
			WakePath: defaultWakePath,
			Defaults: WakeRules{
				MinPendingMessages: defaultMinPendingMessages,
				Cooldown:           defaultCooldown,
				ActivityKeepAlive:  defaultActivityKeepAlive,
				MinConsumedDelta:   defaultMinConsumedDelta,
			},
			RetryOnFailure: retry,
			BindingExpiry:  defaultBindingExpiry,
		},
	}
}

func createMetricsProcessor(
	ctx context.Context,
	set processor.Settings,
	cfg component.Config,
	next consumer.Metrics,
) (processor.Metrics, error) {
	p := newWakeProcessor(cfg.(*Config), set, time.Now)
	return processorhelper.NewMetrics(ctx, set, cfg, next, p.processMetrics,
		// The wake counters are appended to the input, so it must be writable.
		processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: true}),
		processorhelper.WithStart(p.start),
		processorhelper.WithShutdown(p.shutdown),
	)
}
