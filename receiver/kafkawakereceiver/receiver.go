package kafkawakereceiver // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver"

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.uber.org/zap"
)

// reportingReceiver is the scraper controller plus the reports it makes
// between scrapes, through the same observation and the same consumer as a
// scrape: a binding the watch saw a message reach while idle, and the
// bindings an assignment just moved to this replica.
type reportingReceiver struct {
	receiver.Metrics // the scraper controller
	scraper          *kafkaScraper
	next             consumer.Metrics
	// obsrecv counts early reports in the receiver's own telemetry, as the
	// controller counts scrapes.
	obsrecv *receiverhelper.ObsReport
	logger  *zap.Logger
	// watch is nil unless watch.enabled.
	watch *watcher
	// stopMovedIn, with coordination, stops the reports of moved-in bindings.
	stopMovedIn func()
}

func newReportingReceiver(controller receiver.Metrics, s *kafkaScraper, next consumer.Metrics, set receiver.Settings) (*reportingReceiver, error) {
	obsrecv, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{ReceiverID: set.ID, ReceiverCreateSettings: set})
	if err != nil {
		return nil, err
	}
	return &reportingReceiver{Metrics: controller, scraper: s, next: next, obsrecv: obsrecv, logger: set.Logger}, nil
}

// Start starts the watch and the moved-in reports before the controller, so
// that the first scrape already plans the watch and no assignment is missed.
func (r *reportingReceiver) Start(ctx context.Context, host component.Host) error {
	if r.scraper.cfg.Watch.Enabled {
		opts, err := clientOptions(ctx, &r.scraper.cfg.ClientConfig, host)
		if err != nil {
			return err
		}
		client, err := kgo.NewClient(opts...)
		if err != nil {
			return fmt.Errorf("creating the watch's Kafka client for brokers %v: %w", r.scraper.cfg.Brokers, err)
		}
		r.watch = newWatcher(client, r.scraper.cfg, r.logger, r.reportNow)
		r.scraper.onObserved = r.watch.update
	}
	if r.scraper.shareChanged != nil {
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
		r.watch.stop()
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
// replica still owns and observed at its last scrape.
func (r *reportingReceiver) reportNow(ctx context.Context, bindings []int) {
	r.report(ctx, func() []int { return r.scraper.earlyReportable(bindings) })
}

// report observes the bindings pick returns and hands their points to the
// next consumer. It holds the scraper's lock from pick until the points are
// consumed, so an early report never interleaves with a scrape's
// observation. It ignores the caller's cancellation: once started, a report
// ends within the timeout, as a scrape does.
func (r *reportingReceiver) report(ctx context.Context, pick func() []int) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.scraper.cfg.Timeout)
	defer cancel()
	r.scraper.mu.Lock()
	defer r.scraper.mu.Unlock()
	bindings := pick()
	if len(bindings) == 0 {
		return
	}
	// Read errors are the scrape's: logged per binding as they change, and
	// such bindings get no point.
	md, _ := r.scraper.observeBindings(ctx, bindings, bindings, r.scraper.readerFor(bindings))
	points := md.DataPointCount()
	if points == 0 {
		return
	}
	ctx = r.obsrecv.StartMetricsOp(ctx)
	err := r.next.ConsumeMetrics(ctx, md)
	r.obsrecv.EndMetricsOp(ctx, "", points, err)
	if err != nil {
		r.logger.Warn("The pipeline refused a report made between scrapes; the next scrape reports the bindings again", zap.Error(err))
	}
}
