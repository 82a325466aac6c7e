package slimfaaswakeprocessor // import "github.com/kafkawake/kafkawake/processor/slimfaaswakeprocessor"

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/kafkawake/kafkawake/internal/ctxsleep"
	schema "github.com/kafkawake/kafkawake/internal/metadata"
)

const (
	// maxConcurrentWakes bounds the wake calls running at once, over all
	// functions. Each function has at most one call in flight, so a hung
	// endpoint holds only its own function's call, until the HTTP timeout;
	// the bound is high enough that hung functions never hold back healthy
	// ones unless this many hang at once.
	maxConcurrentWakes = 256
	// idleConnsPerHost is how many connections to SlimFaas are kept open
	// between wakes: as many as wake calls can run at once, so that the
	// next burst reuses every connection the last one opened instead of
	// dialling (and with tls, handshaking) again for most of its calls.
	idleConnsPerHost = maxConcurrentWakes
	// shutdownWaitLimit bounds how long Shutdown waits for cancelled calls.
	shutdownWaitLimit = 5 * time.Second
)

type wakeProcessor struct {
	cfg    *Config
	set    processor.Settings
	logger *zap.Logger
	now    func() time.Time
	// sleep waits d or until ctx is done, whichever comes first.
	sleep func(ctx context.Context, d time.Duration) error
	// counters holds the wakeups and wake_failures metrics without points,
	// as the shared schema defines them; each batch copies them.
	counters pmetric.MetricSlice

	// runCtx is cancelled by Shutdown to abort the running wake calls.
	runCtx    context.Context
	cancelRun context.CancelFunc
	calls     sync.WaitGroup
	// queue holds the call slots and the wake calls waiting for one.
	queue *wakeQueue

	// mu guards everything below.
	mu        sync.Mutex
	bindings  bindingTable
	overrides overrideCheck
	// client is nil before Start, after Shutdown, and in dry run.
	client  *http.Client
	stopped bool
}

func newWakeProcessor(cfg *Config, set processor.Settings, now func() time.Time) *wakeProcessor {
	runCtx, cancelRun := context.WithCancel(context.Background())
	p := &wakeProcessor{
		cfg:       cfg,
		set:       set,
		logger:    set.Logger,
		now:       now,
		sleep:     ctxsleep.Sleep,
		counters:  counterTemplates(set),
		runCtx:    runCtx,
		cancelRun: cancelRun,
		bindings:  newBindingTable(cfg.BindingExpiry),
		overrides: newOverrideCheck(cfg.Functions),
	}
	p.queue = newWakeQueue(func(w queuedWake) {
		p.calls.Add(1)
		go p.deliver(w.client, w.call)
	})
	return p
}

func (p *wakeProcessor) start(ctx context.Context, host component.Host) error {
	if p.cfg.DryRun {
		p.logger.Info("Dry run: wake calls are logged, not sent", zap.String("endpoint", p.cfg.ClientConfig.Endpoint))
		return nil
	}
	client, err := p.cfg.ClientConfig.ToClient(ctx, host.GetExtensions(), p.set.TelemetrySettings)
	if err != nil {
		return fmt.Errorf("slimfaaswake start: create HTTP client for %s: %w", p.cfg.ClientConfig.Endpoint, err)
	}
	client.CheckRedirect = keepPOST
	p.mu.Lock()
	defer p.mu.Unlock()
	p.client = client
	return nil
}

// maxRedirects bounds a chain of 307 and 308 redirects.
const maxRedirects = 10

// keepPOST follows the redirects that keep a POST a POST (307, 308) and
// stops at the others: after a 301, 302 or 303 an HTTP client sends a GET,
// which SlimFaas answers 405, hiding the cause. The attempt fails on the
// redirect itself instead, with its status and Location.
func keepPOST(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	if code := req.Response.StatusCode; code == http.StatusTemporaryRedirect || code == http.StatusPermanentRedirect {
		return nil
	}
	return http.ErrUseLastResponse
}

// shutdown stops new wakes, cancels the running ones and waits for them,
// within shutdownWaitLimit and the deadline of ctx.
func (p *wakeProcessor) shutdown(ctx context.Context) error {
	p.mu.Lock()
	p.stopped = true
	client := p.client
	p.client = nil
	// Calls never started are dropped, as the running ones are cancelled:
	// neither a wakeup nor a failure.
	now := p.now()
	for _, w := range p.queue.close() {
		p.bindings.functions.end(w.call.binding.key.function, now)
	}
	p.mu.Unlock()

	p.cancelRun()
	done := make(chan struct{})
	go func() {
		p.calls.Wait()
		close(done)
	}()
	timer := time.NewTimer(shutdownWaitLimit)
	defer timer.Stop()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("slimfaaswake shutdown: wake calls still running: %w", ctx.Err())
	case <-timer.C:
		err = fmt.Errorf("slimfaaswake shutdown: wake calls still running after %s", shutdownWaitLimit)
	}
	if client != nil {
		client.CloseIdleConnections()
	}
	return err
}

// processMetrics decides the wakes of the bindings in md, starts the wake
// calls without waiting for them, and appends the wake counters of every
// binding to the resource it was observed in.
func (p *wakeProcessor) processMetrics(_ context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	p.bindings.sweep(now)
	p.bindings.collect(md, now)
	if len(p.bindings.observed) == 0 {
		return md, nil
	}
	for _, b := range p.bindings.observed {
		p.overrides.seen(b.key.function)
		p.decide(b, now)
	}
	p.overrides.check(now, p.cfg.BindingExpiry, p.logger)
	p.appendCounters(md, now)
	return md, nil
}

// wakeAction is what the processor did with a decision to wake.
type wakeAction int

const (
	actionNone wakeAction = iota
	// actionCalled: a wake call started.
	actionCalled
	// actionDryRun: the call was logged and counted as a success.
	actionDryRun
	// actionNotRunning: the processor is not started or shut down.
	actionNotRunning
	// actionMirrored: another replica owns the binding; its cooldown was
	// started here as the owner's success starts it, without a call.
	actionMirrored
)

var actionNames = [...]string{actionNone: "none", actionCalled: "called", actionDryRun: "dry_run", actionNotRunning: "not_running", actionMirrored: "mirrored_for_owner"}

func (a wakeAction) String() string { return actionNames[a] }

// decide applies the rules to the batch's observation of b and starts its
// wake if due. Callers hold p.mu.
func (p *wakeProcessor) decide(b *binding, now time.Time) {
	key, obs := b.key, b.seen.observation
	rules := p.cfg.rulesFor(key.function)
	var d decision
	b.state, d = evaluate(rules, b.state, p.bindings.functions.state(key.function), obs, now)
	action := actionNone
	switch {
	case d.outcome == outcomeWake && obs.owner == ownerElsewhere:
		// The owner decides the same on the same input and calls.
		p.applyAttempt(b, d.reason, rules, attemptResult{kind: attemptMirrored}, now)
		action = actionMirrored
	case d.outcome == outcomeWake:
		action = p.startWake(b, d.reason, rules, now)
	}
	if ce := p.logger.Check(zapcore.DebugLevel, "Wake decision"); ce != nil {
		ce.Write(append(bindingFields(key),
			zap.String("status", p.bindings.statuses[key]),
			zap.Bool("pending_observed", obs.hasPending),
			zap.Int64("pending", obs.pending),
			zap.Int64("consumed_delta", d.consumedDelta),
			zap.Time("last_activity", b.state.lastActivity),
			zap.Duration("cooldown_left", d.cooldownLeft),
			zap.Duration("function_hold_left", d.holdLeft),
			zap.String("reason", d.reason.String()),
			zap.Stringer("outcome", d.outcome),
			zap.Stringer("action", action),
		)...)
	}
}

// startWake starts the wake of b's function, or in dry run records it as a
// success. Callers hold p.mu.
func (p *wakeProcessor) startWake(b *binding, reason schema.AttributeReason, rules WakeRules, now time.Time) wakeAction {
	function := b.key.function
	url := p.cfg.wakeURL(function)
	if p.cfg.DryRun {
		p.logger.Info("Dry run: would wake function", append(bindingFields(b.key),
			zap.String("method", http.MethodPost), zap.String("url", url), zap.String("reason", reason.String()),
			zap.String("status", p.bindings.statuses[b.key]))...)
		p.applyAttempt(b, reason, rules, attemptResult{kind: attemptDryRun}, now)
		return actionDryRun
	}
	if p.stopped || p.client == nil {
		return actionNotRunning
	}
	p.bindings.functions.begin(function)
	p.queue.push(queuedWake{client: p.client, call: wakeCall{binding: b, reason: reason, rules: rules, url: url}})
	return actionCalled
}

// applyAttempt applies the transition of one wake attempt of b at now: the
// function's hold always, since it is SlimFaas's answer about the URL; the
// binding's state and counts only if b is still remembered. It reports
// whether b is. Callers hold p.mu.
func (p *wakeProcessor) applyAttempt(b *binding, reason schema.AttributeReason, rules WakeRules, res attemptResult, now time.Time) bool {
	function := b.key.function
	state, heldUntil, counts := afterAttempt(rules, b.state, p.bindings.functions.state(function).heldUntil, res, now)
	p.bindings.functions.hold(function, heldUntil, now)
	if !p.bindings.current(b, now) {
		return false
	}
	b.state = state
	b.count(reason, counts)
	return true
}

func bindingFields(key bindingKey) []zap.Field {
	return []zap.Field{
		zap.String(topicKey, key.topic),
		zap.String(groupKey, key.group),
		zap.String(functionKey, key.function),
	}
}
