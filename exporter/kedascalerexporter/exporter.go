package kedascalerexporter // import "github.com/kafkawake/kafkawake/exporter/kedascalerexporter"

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/kafkawake/kafkawake/exporter/kedascalerexporter/internal/scalerstate"
)

// forgetAfter is how long a binding may go unreported before the exporter
// forgets it (the Prometheus exporter's default metric_expiration).
const forgetAfter = 5 * time.Minute

// scalerExporter keeps the bindings' state from the metrics it consumes and
// serves it to KEDA.
type scalerExporter struct {
	cfg      *Config
	settings component.TelemetrySettings
	now      func() time.Time
	store    *scalerstate.Store

	// consumeMu guards points, reused from batch to batch.
	consumeMu sync.Mutex
	points    []scalerstate.Point

	server    *grpc.Server
	serveDone chan struct{}
	// addr is the address the server listens on, known once started.
	addr string
}

func newScalerExporter(cfg *Config, settings component.TelemetrySettings, now func() time.Time) *scalerExporter {
	return &scalerExporter{
		cfg:      cfg,
		settings: settings,
		now:      now,
		store: scalerstate.New(scalerstate.Settings{
			ActiveWindow: cfg.ActiveWindow,
			StaleAfter:   cfg.StaleAfter,
			ForgetAfter:  forgetAfter,
		}),
	}
}

// consumeMetrics updates the bindings' state; open streams re-evaluate at
// once.
func (e *scalerExporter) consumeMetrics(_ context.Context, md pmetric.Metrics) error {
	e.consumeMu.Lock()
	defer e.consumeMu.Unlock()
	e.points = readPoints(e.points[:0], md)
	e.store.Apply(e.points, e.now())
	return nil
}

func (e *scalerExporter) start(ctx context.Context, host component.Host) error {
	server, err := e.cfg.ServerConfig.ToServer(ctx, host.GetExtensions(), e.settings)
	if err != nil {
		return fmt.Errorf("kedascaler: gRPC server: %w", err)
	}
	listener, err := e.cfg.NetAddr.Listen(ctx)
	if err != nil {
		return fmt.Errorf("kedascaler: listen on endpoint %q: %w", e.cfg.NetAddr.Endpoint, err)
	}
	externalscaler.RegisterExternalScalerServer(server, &scalerService{store: e.store, now: e.now})
	e.server = server
	e.addr = listener.Addr().String()
	e.serveDone = make(chan struct{})
	go func() {
		defer close(e.serveDone)
		if err := server.Serve(listener); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			e.settings.Logger.Error("KEDA external scaler stopped serving", zap.Error(err))
		}
	}()
	e.settings.Logger.Info("KEDA external scaler listening", zap.String("endpoint", e.addr))
	return nil
}

// shutdown stops the server; open streams end, and KEDA reconnects to
// another replica or retries.
func (e *scalerExporter) shutdown(context.Context) error {
	if e.server == nil {
		return nil
	}
	e.server.Stop()
	<-e.serveDone
	return nil
}
