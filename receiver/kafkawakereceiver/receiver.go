package kafkawakereceiver // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.uber.org/zap"

	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/kafkaclient"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/watch"
)

// reportingReceiver is the scraper controller plus the reports it makes
// between scrapes, through the same observation and the same consumer as a
// scrape: a binding the watch saw a message reach while idle, and the
// bindings an assignment just moved to this replica.
type reportingReceiver struct {
	receiver.Metrics // the scraper controller
	cfg              *Config
	scraper          *kafkaScraper
	next             consumer.Metrics
	// obsrecv counts early reports in the receiver's own telemetry, as the
	// controller counts scrapes.
	obsrecv *receiverhelper.ObsReport
	logger  *zap.Logger
	// watch is nil unless watch.enabled.
	watch *watch.Watcher
	// stopMovedIn, with coordination, stops the reports of moved-in bindings.
	stopMovedIn func()
}

func newReportingReceiver(cfg *Config, controller receiver.Metrics, s *kafkaScraper, next consumer.Metrics, set receiver.Settings) (*reportingReceiver, error) {
	obsrecv, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{ReceiverID: set.ID, ReceiverCreateSettings: set})
	if err != nil {
		return nil, err
	}
	return &reportingReceiver{Metrics: controller, cfg: cfg, scraper: s, next: next, obsrecv: obsrecv, logger: set.Logger}, nil
}

// Start starts the watch and the moved-in reports before the controller, so
// that the first scrape already plans the watch and no assignment is missed.
func (r *reportingReceiver) Start(ctx context.Context, host component.Host) error {
	if r.cfg.Watch.Enabled {
		// A parked poll holds its connection: the watch has its own client,
		// so that it never holds back the scrapes' requests.
		client, err := kafkaclient.New(ctx, &r.cfg.ClientConfig, host, "the watch's")
		if err != nil {
			return err
		}
		r.watch = watch.New(client, watch.Config{MaxWait: r.cfg.Watch.MaxWait, Timeout: r.cfg.Timeout, ReadCommitted: r.cfg.readCommitted()}, r.logger, r.reportNow)
		r.scraper.watcher = r.watch
	}
	if r.cfg.Coordination.HasValue() {
		r.startMovedInReports()
	}
	if err := r.Metrics.Start(ctx, host); err != nil {
		r.stopEarlyReports()
		return err
	}
	return nil
}

// Shutdown stops the early reports first, so that none runs once the
// controller has shut the scraper down.
func (r *reportingReceiver) Shutdown(ctx context.Context) error {
	r.stopEarlyReports()
	return r.Metrics.Shutdown(ctx)
}

func (r *reportingReceiver) stopEarlyReports() {
	if r.watch != nil {
		r.watch.Stop()
	}
	if r.stopMovedIn != nil {
		r.stopMovedIn()
	}
}

// startMovedInReports follows each change of this replica's share at once:
// the bindings that moved in are reported, those that moved out are no
// longer read.
func (r *reportingReceiver) startMovedInReports() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-r.scraper.shareChanged:
				r.report(ctx, r.scraper.movedInBindings)
			}
		}
	}()
	r.stopMovedIn = func() {
		cancel()
		<-done
	}
}

// reportNow observes the given bindings at once, those of them this
// replica still owns and observed at its last scrape, and tells whether
// every one of them was read in full.
func (r *reportingReceiver) reportNow(ctx context.Context, bindings []int) bool {
	return r.report(ctx, func() []int { return r.scraper.earlyReportable(bindings) })
}

// report observes the bindings pick returns and hands their points to the
// next consumer; the scraper holds its lock from pick until the points are
// made, so an early report never interleaves with a scrape's observation.
// It ignores the caller's cancellation: once started, a report ends within
// the timeout, as a scrape does. It tells whether every binding was read in
// full.
func (r *reportingReceiver) report(ctx context.Context, pick func() []int) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.Timeout)
	defer cancel()
	// Read errors are the scrape's: logged per binding as they change, and
	// such bindings get no point.
	md, allRead, _ := r.scraper.Observe(ctx, pick)
	points := md.DataPointCount()
	if points == 0 {
		return allRead
	}
	ctx = r.obsrecv.StartMetricsOp(ctx)
	err := r.next.ConsumeMetrics(ctx, md)
	r.obsrecv.EndMetricsOp(ctx, "", points, err)
	if err != nil {
		r.logger.Warn("The pipeline refused a report made between scrapes; the next scrape reports the bindings again", zap.Error(err))
	}
	return allRead
}
