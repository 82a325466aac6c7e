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

// watchingReceiver is the scraper controller plus the watch: it reports a
// binding as soon as a message reaches it while idle, through the same
// observation and the same consumer as a scrape.
type watchingReceiver struct {
	receiver.Metrics // the scraper controller
	scraper          *kafkaScraper
	next             consumer.Metrics
	// obsrecv counts early reports in the receiver's own telemetry, as the
	// controller counts scrapes.
	obsrecv *receiverhelper.ObsReport
	logger  *zap.Logger
	watch   *watcher
}

func newWatchingReceiver(controller receiver.Metrics, s *kafkaScraper, next consumer.Metrics, set receiver.Settings) (*watchingReceiver, error) {
	obsrecv, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{ReceiverID: set.ID, ReceiverCreateSettings: set})
	if err != nil {
		return nil, err
	}
	return &watchingReceiver{Metrics: controller, scraper: s, next: next, obsrecv: obsrecv, logger: set.Logger}, nil
}

// Start starts the watch before the controller, so that the first scrape
// already plans it.
func (r *watchingReceiver) Start(ctx context.Context, host component.Host) error {
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
	if err := r.Metrics.Start(ctx, host); err != nil {
		r.watch.stop()
		return err
	}
	return nil
}

// Shutdown stops the watch first, so that no early report runs once the
// controller has shut the scraper down.
func (r *watchingReceiver) Shutdown(ctx context.Context) error {
	if r.watch != nil {
		r.watch.stop()
	}
	return r.Metrics.Shutdown(ctx)
}

// reportNow observes the bindings at once and hands their points to the
// next consumer. It holds the scraper's lock until the points are consumed,
// so an early report never interleaves with a scrape's observation. It
// ignores the watcher's cancellation: once started, a report ends within
// the timeout, as a scrape does.
func (r *watchingReceiver) reportNow(ctx context.Context, bindings []int) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.scraper.cfg.Timeout)
	defer cancel()
	r.scraper.mu.Lock()
	defer r.scraper.mu.Unlock()
	bindings = r.scraper.earlyReportable(bindings)
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
		r.logger.Warn("Watch: the pipeline refused an early report; the next scrape reports the bindings again", zap.Error(err))
	}
}
