package kafkawakereceiver // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver"

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
)

const (
	watchMinBackoff = 100 * time.Millisecond
	watchMaxBackoff = 10 * time.Second
)

// earlyReport observes the given bindings at once, outside the scrape
// schedule, and hands the watcher their new sights. Every observation reads
// fresh metadata, so it also finds where a moved partition went.
type earlyReport func(ctx context.Context, bindings []int)

// watcher keeps one long poll parked at each leader broker for the
// partitions of idle bindings, and reports those bindings as soon as a
// message arrives. It has its own Kafka client: a broker answers one request
// per connection at a time, so a parked poll on the scraper's connections
// would hold back the scraper's own fetches.
type watcher struct {
	client        *kgo.Client
	logger        *zap.Logger
	maxWait       time.Duration
	timeout       time.Duration // added to maxWait to give up on a poll
	readCommitted bool
	report        earlyReport

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	sights  []bindingSight
	off     map[string]bool // topics the collector may not read
	plan    watchPlan
	brokers map[int32]*brokerPoll
}

// brokerPoll is the state of one broker's poll loop shared with update.
type brokerPoll struct {
	changed chan struct{} // the broker's targets changed; capacity 1
	// parked holds the targets of the poll in flight, and cancelParked
	// aborts it when the broker gains a target the poll does not cover.
	parked       map[topicPartition]watchTarget
	cancelParked context.CancelFunc
}

func newWatcher(client *kgo.Client, cfg *Config, logger *zap.Logger, report earlyReport) *watcher {
	ctx, cancel := context.WithCancel(context.Background())
	return &watcher{
		client:        client,
		logger:        logger,
		maxWait:       cfg.Watch.MaxWait,
		timeout:       cfg.Timeout,
		readCommitted: cfg.IsolationLevel == IsolationReadCommitted,
		report:        report,
		ctx:           ctx,
		cancel:        cancel,
		sights:        make([]bindingSight, len(cfg.Bindings)),
		off:           map[string]bool{},
		plan:          watchPlan{},
		brokers:       map[int32]*brokerPoll{},
	}
}

// stop ends every poll loop and closes the watcher's client. It cancels
// under the lock, so that no replan starts a loop after the wait began.
func (w *watcher) stop() {
	w.mu.Lock()
	w.cancel()
	w.mu.Unlock()
	w.wg.Wait()
	w.client.Close()
}

// update takes the sights of the bindings an observation just read, plans
// the watch again, and wakes the poll loops whose targets changed.
func (w *watcher) update(sights map[int]bindingSight) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, s := range sights {
		w.sights[i] = s
	}
	w.replanLocked()
}

func (w *watcher) replanLocked() {
	if w.ctx.Err() != nil {
		return
	}
	plan := planWatch(w.sights, w.off)
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

func sameTarget(a, b watchTarget) bool {
	return a.topicPartition == b.topicPartition && a.topicID == b.topicID && a.from == b.from && slices.Equal(a.bindings, b.bindings)
}

// notify wakes the loop, and aborts its parked poll if targets holds a
// partition the poll does not cover: one it does not poll, polls from a
// later offset (the partition was truncated) or under another topic ID (the
// topic was re-created). Polls for partitions no longer wanted are left to
// end, their answers ignored.
func (bp *brokerPoll) notify(targets []watchTarget) {
	select {
	case bp.changed <- struct{}{}:
	default:
	}
	if bp.cancelParked == nil {
		return
	}
	for _, t := range targets {
		if p, ok := bp.parked[t.topicPartition]; !ok || t.from < p.from || t.topicID != p.topicID {
			bp.cancelParked()
			return
		}
	}
}

// pollLoop parks one long poll at a time at broker id, for its current
// targets, and acts on each answer.
func (w *watcher) pollLoop(id int32, bp *brokerPoll) {
	fired := map[topicPartition]int64{}
	var backoff time.Duration
	var lastErr string
	for {
		targets, pollCtx, done := w.nextPoll(id, bp, &fired)
		if targets == nil {
			return
		}
		resp, err := w.client.Broker(int(id)).Request(pollCtx, watchFetchRequest(targets, w.maxWait, w.readCommitted))
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
			outcome = readPoll(targets, resp.(*kmsg.FetchResponse), w.readCommitted)
			err = outcome.failed
			w.act(id, outcome, fired)
		}
		lastErr = w.logPollStatus(id, len(targets), err, lastErr)
		if err == nil && len(outcome.stale) == 0 {
			backoff = 0
			continue
		}
		backoff = nextBackoff(backoff)
		if !w.sleep(backoff) {
			return
		}
	}
}

// act reports the bindings a poll found a message for, turns denied topics
// off and refreshes the bindings whose partitions moved. Targets that fired
// are remembered with the offset they fired from.
func (w *watcher) act(id int32, outcome pollOutcome, fired map[topicPartition]int64) {
	for topic, err := range outcome.denied {
		w.turnOff(topic, err)
	}
	for _, t := range outcome.arrived {
		fired[t.topicPartition] = t.from
	}
	if bindings := w.plannedBindings(id, outcome.arrived); len(bindings) > 0 {
		w.report(w.ctx, bindings)
	}
	if bindings := w.plannedBindings(id, outcome.stale); len(bindings) > 0 {
		w.refresh(bindings)
	}
}

// logPollStatus logs a broker's poll failure when it changes, and its
// recovery, and returns the new status text.
func (w *watcher) logPollStatus(id int32, partitions int, err error, lastErr string) string {
	text := ""
	if err != nil {
		text = err.Error()
	}
	switch {
	case text == lastErr:
	case err != nil:
		w.logger.Warn("Watch: the long poll failed; retrying with backoff, wakes wait for the next scrape meanwhile",
			zap.Int32("broker", id), zap.Int("partitions", partitions), zap.Error(err))
	default:
		w.logger.Info("Watch: the long poll works again", zap.Int32("broker", id))
	}
	return text
}

// nextPoll waits until broker id has targets to poll and registers the poll
// as parked. It returns nil targets when the watcher stops; done must be
// called once the poll has returned. fired keeps only the entries still
// holding a target back.
func (w *watcher) nextPoll(id int32, bp *brokerPoll, fired *map[topicPartition]int64) ([]watchTarget, context.Context, func()) {
	for {
		w.mu.Lock()
		var targets []watchTarget
		targets, *fired = armable(w.plan[id], *fired)
		if len(targets) > 0 {
			ctx, cancel := context.WithTimeout(w.ctx, w.maxWait+w.timeout)
			bp.parked = make(map[topicPartition]watchTarget, len(targets))
			for _, t := range targets {
				bp.parked[t.topicPartition] = t
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
func (w *watcher) refresh(bindings []int) {
	backoff := time.Duration(0)
	for range staleRetries {
		w.report(w.ctx, bindings)
		if w.readable(bindings) {
			return
		}
		backoff = nextBackoff(backoff)
		if !w.sleep(backoff) {
			return
		}
	}
}

// readable tells whether the latest observation read every one of bindings.
func (w *watcher) readable(bindings []int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, i := range bindings {
		if w.sights[i].partitions == nil {
			return false
		}
	}
	return true
}

// plannedBindings lists, once each, the bindings the current plan of broker
// id still watches on the given partitions: a binding that went busy while
// the poll was parked is not reported early.
func (w *watcher) plannedBindings(id int32, hit []watchTarget) []int {
	w.mu.Lock()
	defer w.mu.Unlock()
	want := make(map[topicPartition]bool, len(hit))
	for _, t := range hit {
		want[t.topicPartition] = true
	}
	var bindings []int
	for _, t := range w.plan[id] {
		if want[t.topicPartition] {
			bindings = append(bindings, t.bindings...)
		}
	}
	slices.Sort(bindings)
	return slices.Compact(bindings)
}

// turnOff stops watching a topic the collector may not read, for good: the
// scrapes go on, and so do the wakes, at the scrape interval.
func (w *watcher) turnOff(topic string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.off[topic] {
		return
	}
	w.off[topic] = true
	w.logger.Warn("Watch: not authorized to read the topic, so it is not watched; its bindings are woken at the scrape interval. Grant the collector's principal Read on the topic and restart to watch it",
		zap.String("topic", topic), zap.Error(err))
	w.replanLocked()
}

// sleep waits d, or returns false when the watcher stops first.
func (w *watcher) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-w.ctx.Done():
		return false
	}
}

func nextBackoff(prev time.Duration) time.Duration {
	if prev == 0 {
		return watchMinBackoff
	}
	return min(2*prev, watchMaxBackoff)
}
