package watch

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"

	"github.com/kafkawake/kafkawake/internal/ctxsleep"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/logchange"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/offset"
)

const (
	watchMinBackoff = 100 * time.Millisecond
	watchMaxBackoff = 10 * time.Second
)

// Report observes the given bindings at once, outside the scrape schedule,
// which hands the watcher their new sights through Update, and tells
// whether every one of them was read in full. Every observation reads fresh
// metadata, so it also finds where a moved partition went.
type Report func(ctx context.Context, bindings []int) (allRead bool)

// Config is what a watcher needs of the receiver's configuration.
type Config struct {
	// MaxWait is how long one long poll waits at the broker.
	MaxWait time.Duration
	// Timeout is added to MaxWait to give up on a poll whose answer is lost.
	Timeout       time.Duration
	ReadCommitted bool
}

// Watcher keeps one long poll parked at each leader broker for the
// partitions of idle bindings, and reports those bindings as soon as a
// message arrives. It has its own Kafka client: a broker answers one request
// per connection at a time, so a parked poll on the scraper's connections
// would hold back the scraper's own fetches.
type Watcher struct {
	client *kgo.Client
	cfg    Config
	logger *zap.Logger
	report Report

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	off     map[string]bool // topics the collector may not read
	plan    Plan
	brokers map[int32]*brokerPoll
}

// brokerPoll is the state of one broker's poll loop shared with update.
type brokerPoll struct {
	changed chan struct{} // the broker's targets changed; capacity 1
	// parked holds the targets of the poll in flight, and cancelParked
	// aborts it when the broker gains a target the poll does not cover.
	parked       map[offset.TopicPartition]Target
	cancelParked context.CancelFunc
}

// New returns a watcher that polls with its own client, which Stop closes,
// and reports through report.
func New(client *kgo.Client, cfg Config, logger *zap.Logger, report Report) *Watcher {
	ctx, cancel := context.WithCancel(context.Background())
	return &Watcher{
		client:  client,
		cfg:     cfg,
		logger:  logger,
		report:  report,
		ctx:     ctx,
		cancel:  cancel,
		off:     map[string]bool{},
		plan:    Plan{},
		brokers: map[int32]*brokerPoll{},
	}
}

// Stop ends every poll loop and closes the watcher's client. It cancels
// under the lock, so that no replan starts a loop after the wait began.
func (w *Watcher) Stop() {
	w.mu.Lock()
	w.cancel()
	w.mu.Unlock()
	w.wg.Wait()
	w.client.Close()
}

// Update plans the watch again from the sights of every binding, indexed
// by binding, and wakes the poll loops whose targets changed.
func (w *Watcher) Update(sights []Sight) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.setPlanLocked(planWatch(sights, w.off))
}

// Plan is a copy of the current plan.
func (w *Watcher) Plan() Plan {
	w.mu.Lock()
	defer w.mu.Unlock()
	plan := make(Plan, len(w.plan))
	for id, targets := range w.plan {
		plan[id] = slices.Clone(targets)
	}
	return plan
}

func (w *Watcher) setPlanLocked(plan Plan) {
	if w.ctx.Err() != nil {
		return
	}
	for id, targets := range plan {
		if _, ok := w.brokers[id]; !ok {
			bp := &brokerPoll{changed: make(chan struct{}, 1)}
			w.brokers[id] = bp
			w.wg.Go(func() { w.pollLoop(id, bp) })
		}
		if !slices.EqualFunc(targets, w.plan[id], sameTarget) {
			w.brokers[id].notify(targets)
		}
	}
	for id := range w.plan {
		if _, ok := plan[id]; !ok {
			w.brokers[id].notify(nil)
		}
	}
	w.plan = plan
}

func sameTarget(a, b Target) bool {
	return a.TopicPartition == b.TopicPartition && a.TopicID == b.TopicID && a.From == b.From && slices.Equal(a.Bindings, b.Bindings)
}

// notify wakes the loop, and aborts its parked poll if targets holds a
// partition the poll does not cover: one it does not poll, polls from a
// later offset (the partition was truncated) or under another topic ID (the
// topic was re-created). Polls for partitions no longer wanted are left to
// end, their answers ignored.
func (bp *brokerPoll) notify(targets []Target) {
	select {
	case bp.changed <- struct{}{}:
	default:
	}
	if bp.cancelParked == nil {
		return
	}
	for _, t := range targets {
		if p, ok := bp.parked[t.TopicPartition]; !ok || t.From < p.From || t.TopicID != p.TopicID {
			bp.cancelParked()
			return
		}
	}
}

// pollLoop parks one long poll at a time at broker id, for its current
// targets, and acts on each answer.
func (w *Watcher) pollLoop(id int32, bp *brokerPoll) {
	fired := map[offset.TopicPartition]int64{}
	var backoff time.Duration
	var status logchange.Text
	for {
		targets, pollCtx, done := w.nextPoll(id, bp, &fired)
		if targets == nil {
			return
		}
		resp, err := w.client.Broker(int(id)).Request(pollCtx, pollRequest(targets, w.cfg.MaxWait, w.cfg.ReadCommitted))
		// A poll aborted for new targets is sent again at once; one past
		// its deadline is a failure.
		aborted := err != nil && errors.Is(context.Cause(pollCtx), context.Canceled)
		done()
		if w.ctx.Err() != nil {
			return
		}
		if aborted {
			continue
		}
		var outcome pollOutcome
		if err == nil {
			err = kerr.ErrorForCode(resp.(*kmsg.FetchResponse).ErrorCode)
		}
		if err == nil {
			outcome = readPoll(targets, resp.(*kmsg.FetchResponse), w.cfg.ReadCommitted)
			err = outcome.failed
			w.act(id, outcome, fired)
		}
		w.logPollStatus(id, len(targets), err, &status)
		if err == nil && len(outcome.stale) == 0 {
			backoff = 0
			continue
		}
		backoff = nextBackoff(backoff)
		if ctxsleep.Sleep(w.ctx, backoff) != nil {
			return
		}
	}
}

// act reports the bindings a poll found a message for, turns denied topics
// off and refreshes the bindings whose partitions moved. Targets that fired
// are remembered with the offset they fired from.
func (w *Watcher) act(id int32, outcome pollOutcome, fired map[offset.TopicPartition]int64) {
	for topic, err := range outcome.denied {
		w.turnOff(topic, err)
	}
	for _, t := range outcome.arrived {
		fired[t.TopicPartition] = t.From
	}
	if bindings := w.plannedBindings(id, outcome.arrived); len(bindings) > 0 {
		w.report(w.ctx, bindings)
	}
	if bindings := w.plannedBindings(id, outcome.stale); len(bindings) > 0 {
		w.refresh(bindings)
	}
}

// logPollStatus logs a broker's poll failure when it changes, and its
// recovery.
func (w *Watcher) logPollStatus(id int32, partitions int, err error, status *logchange.Text) {
	text := ""
	if err != nil {
		text = err.Error()
	}
	switch {
	case !status.Changed(text):
	case err != nil:
		w.logger.Warn("Watch: the long poll failed; retrying with backoff, wakes wait for the next scrape meanwhile",
			zap.Int32("broker", id), zap.Int("partitions", partitions), zap.Error(err))
	default:
		w.logger.Info("Watch: the long poll works again", zap.Int32("broker", id))
	}
}

// nextPoll waits until broker id has targets to poll and registers the poll
// as parked. It returns nil targets when the watcher stops; done must be
// called once the poll has returned. fired keeps only the entries still
// holding a target back.
func (w *Watcher) nextPoll(id int32, bp *brokerPoll, fired *map[offset.TopicPartition]int64) ([]Target, context.Context, func()) {
	for {
		w.mu.Lock()
		var targets []Target
		targets, *fired = armable(w.plan[id], *fired)
		if len(targets) > 0 {
			ctx, cancel := context.WithTimeout(w.ctx, w.cfg.MaxWait+w.cfg.Timeout)
			bp.parked = make(map[offset.TopicPartition]Target, len(targets))
			for _, t := range targets {
				bp.parked[t.TopicPartition] = t
			}
			bp.cancelParked = cancel
			w.mu.Unlock()
			return targets, ctx, func() {
				w.mu.Lock()
				bp.parked, bp.cancelParked = nil, nil
				w.mu.Unlock()
				cancel()
			}
		}
		w.mu.Unlock()
		select {
		case <-bp.changed:
		case <-w.ctx.Done():
			return nil, nil, nil
		}
	}
}

// staleRetries bounds the observations made to find where a polled
// partition went; after them, the scrapes take over.
const staleRetries = 3

// refresh observes bindings whose partitions moved or vanished under a poll
// until they read again: a broker's metadata may lag a move for a moment.
func (w *Watcher) refresh(bindings []int) {
	backoff := time.Duration(0)
	for range staleRetries {
		if w.report(w.ctx, bindings) {
			return
		}
		backoff = nextBackoff(backoff)
		if ctxsleep.Sleep(w.ctx, backoff) != nil {
			return
		}
	}
}

// plannedBindings lists, once each, the bindings the current plan of broker
// id still watches on the given partitions: a binding that went busy while
// the poll was parked is not reported early.
func (w *Watcher) plannedBindings(id int32, hit []Target) []int {
	w.mu.Lock()
	defer w.mu.Unlock()
	want := make(map[offset.TopicPartition]bool, len(hit))
	for _, t := range hit {
		want[t.TopicPartition] = true
	}
	var bindings []int
	for _, t := range w.plan[id] {
		if want[t.TopicPartition] {
			bindings = append(bindings, t.Bindings...)
		}
	}
	slices.Sort(bindings)
	return slices.Compact(bindings)
}

// turnOff stops watching a topic the collector may not read, for good: the
// scrapes go on, and so do the wakes, at the scrape interval.
func (w *Watcher) turnOff(topic string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.off[topic] {
		return
	}
	w.off[topic] = true
	w.logger.Warn("Watch: not authorized to read the topic, so it is not watched; its bindings are woken at the scrape interval. Grant the collector's principal Read on the topic and restart to watch it",
		zap.String("topic", topic), zap.Error(err))
	plan := make(Plan, len(w.plan))
	for id, targets := range w.plan {
		plan[id] = slices.DeleteFunc(slices.Clone(targets), func(t Target) bool { return t.Topic == topic })
		if len(plan[id]) == 0 {
			delete(plan, id)
		}
	}
	w.setPlanLocked(plan)
}

func nextBackoff(prev time.Duration) time.Duration {
	if prev == 0 {
		return watchMinBackoff
	}
	return min(2*prev, watchMaxBackoff)
}
