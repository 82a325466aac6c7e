package slimfaaswakeprocessor // import "github.com/kafkawake/kafkawake/processor/slimfaaswakeprocessor"

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/receiver"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	schema "github.com/kafkawake/kafkawake/internal/metadata"
	"github.com/kafkawake/kafkawake/processor/slimfaaswakeprocessor/internal/metadata"
)

const (
	// maxConcurrentWakes bounds the wake calls running at once.
	maxConcurrentWakes = 8
	// shutdownWaitLimit bounds how long Shutdown waits for cancelled calls.
	shutdownWaitLimit = 5 * time.Second
)

// Extra outcomes, decided after the rules said wake.
const (
	outcomeDryRun     = "dry_run_wake"
	outcomeNotRunning = "not_running"
)

// reasons lists every wake reason, in the order counters are emitted.
var reasons = [...]schema.AttributeReason{
	schema.AttributeReasonPending,
	schema.AttributeReasonActivity,
	schema.AttributeReasonPendingAndActivity,
}

// reasonCounts holds one cumulative count per reason, indexed by reason.
type reasonCounts [schema.AttributeReasonPendingAndActivity + 1]int64

// binding is the processor's memory of one (topic, group, function).
type binding struct {
	key bindingKey
	// attributes holds topic, group and function as the counter points carry
	// them, built once: copying them is cheaper than putting them one by one.
	attributes pcommon.Map
	state      bindingState
	wakeups    reasonCounts
	failures   reasonCounts
	// seen is what the batch being processed says about the binding.
	seen batchView
}

func newBinding(key bindingKey) *binding {
	attributes := pcommon.NewMap()
	attributes.EnsureCapacity(3)
	attributes.PutStr(topicKey, key.topic)
	attributes.PutStr(groupKey, key.group)
	attributes.PutStr(functionKey, key.function)
	return &binding{key: key, attributes: attributes}
}

type wakeProcessor struct {
	cfg    *Config
	set    processor.Settings
	logger *zap.Logger
	now    func() time.Time
	// sleep waits d or until ctx is done, whichever comes first.
	sleep func(ctx context.Context, d time.Duration) error
	// counters holds the wakeups and wake_failures metrics without points,
	// as the shared schema defines them; each batch copies them.
	counters  pmetric.MetricSlice
	startTime pcommon.Timestamp

	// runCtx is cancelled by Shutdown to abort the running wake calls.
	runCtx    context.Context
	cancelRun context.CancelFunc
	calls     sync.WaitGroup
	callSlots chan struct{}

	// mu guards everything below.
	mu       sync.Mutex
	bindings bindingTable
	// inFlight holds the functions with a wake call running.
	inFlight map[string]struct{}
	// client is nil before Start, after Shutdown, and in dry run.
	client  *http.Client
	stopped bool
}

func newWakeProcessor(cfg *Config, set processor.Settings, now func() time.Time) *wakeProcessor {
	runCtx, cancelRun := context.WithCancel(context.Background())
	return &wakeProcessor{
		cfg:       cfg,
		set:       set,
		logger:    set.Logger,
		now:       now,
		sleep:     sleepContext,
		counters:  counterTemplates(set),
		startTime: pcommon.NewTimestampFromTime(now()),
		runCtx:    runCtx,
		cancelRun: cancelRun,
		callSlots: make(chan struct{}, maxConcurrentWakes),
		bindings:  newBindingTable(),
		inFlight:  make(map[string]struct{}),
	}
}

// counterTemplates returns the wakeups and wake_failures metrics, in that
// order, with their name, description, unit and temporality and no points.
// They come from the builder generated for the shared schema, so nothing of
// the schema is written twice. The builder itself is not used per batch: it
// compares every new point with all earlier ones, which is quadratic in the
// number of bindings.
func counterTemplates(set processor.Settings) pmetric.MetricSlice {
	// The schema package is receiver-class only so that mdatagen generates
	// its builder, which needs nothing but the logger and build info.
	mb := schema.NewMetricsBuilder(schema.DefaultMetricsBuilderConfig(),
		receiver.Settings{ID: set.ID, TelemetrySettings: set.TelemetrySettings, BuildInfo: set.BuildInfo})
	mb.RecordSlimfaaskafkaWakeupsDataPoint(0, 0, "", "", "", schema.AttributeReasonPending)
	mb.RecordSlimfaaskafkaWakeFailuresDataPoint(0, 0, "", "", "", schema.AttributeReasonPending)
	emitted := mb.Emit().ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	templates := pmetric.NewMetricSlice()
	for _, name := range []string{schema.MetricsInfo.SlimfaaskafkaWakeups.Name, schema.MetricsInfo.SlimfaaskafkaWakeFailures.Name} {
		for _, m := range emitted.All() {
			if m.Name() == name {
				m.Sum().DataPoints().RemoveIf(func(pmetric.NumberDataPoint) bool { return true })
				m.CopyTo(templates.AppendEmpty())
			}
		}
	}
	return templates
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
	p.mu.Lock()
	defer p.mu.Unlock()
	p.client = client
	return nil
}

// shutdown stops new wakes, cancels the running ones and waits for them,
// within shutdownWaitLimit and the deadline of ctx.
func (p *wakeProcessor) shutdown(ctx context.Context) error {
	p.mu.Lock()
	p.stopped = true
	client := p.client
	p.client = nil
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
	p.bindings.collect(md)
	if len(p.bindings.observed) == 0 {
		return md, nil
	}
	now := p.now()
	for _, b := range p.bindings.observed {
		p.decide(b, now)
	}
	p.appendCounters(md, now)
	return md, nil
}

// decide applies the rules to the batch's observation of b and starts its
// wake if due. Callers hold p.mu.
func (p *wakeProcessor) decide(b *binding, now time.Time) {
	key, obs := b.key, b.seen.observation
	rules := p.cfg.rulesFor(key.function)
	_, busy := p.inFlight[key.function]
	var d decision
	b.state, d = evaluate(rules, b.state, obs, now, busy)
	if d.wake() {
		d.outcome = p.startWake(key, b, d.reason, rules, now)
	}
	if ce := p.logger.Check(zapcore.DebugLevel, "Wake decision"); ce != nil {
		ce.Write(append(bindingFields(key),
			zap.Bool("pending_observed", obs.hasPending),
			zap.Int64("pending", obs.pending),
			zap.Int64("consumed_delta", d.consumedDelta),
			zap.Time("last_activity", b.state.lastActivity),
			zap.Duration("cooldown_left", d.cooldownLeft),
			zap.String("reason", d.reason.String()),
			zap.String("outcome", d.outcome),
		)...)
	}
}

// startWake starts the wake of key's function and returns the outcome to
// log. Callers hold p.mu.
func (p *wakeProcessor) startWake(key bindingKey, b *binding, reason schema.AttributeReason, rules WakeRules, now time.Time) string {
	url := p.cfg.wakeURL(key.function)
	if p.cfg.DryRun {
		p.logger.Info("Dry run: would wake function", append(bindingFields(key),
			zap.String("method", http.MethodPost), zap.String("url", url), zap.String("reason", reason.String()))...)
		b.wakeups[reason]++
		b.state.notBefore = now.Add(rules.Cooldown)
		return outcomeDryRun
	}
	if p.stopped || p.client == nil {
		return outcomeNotRunning
	}
	p.inFlight[key.function] = struct{}{}
	p.calls.Add(1)
	go p.deliver(p.client, wakeCall{key: key, reason: reason, rules: rules, url: url})
	return outcomeWake
}

// appendCounters adds, to each ResourceMetrics of md that carried bindings,
// a ScopeMetrics with the wakeups and wake_failures of those bindings for
// every reason. Callers hold p.mu.
func (p *wakeProcessor) appendCounters(md pmetric.Metrics, now time.Time) {
	ts := pcommon.NewTimestampFromTime(now)
	rms := md.ResourceMetrics()
	for r, bindings := range p.bindings.perResource {
		if len(bindings) == 0 {
			continue
		}
		scope := rms.At(r).ScopeMetrics().AppendEmpty()
		scope.Scope().SetName(metadata.ScopeName)
		scope.Scope().SetVersion(p.set.BuildInfo.Version)
		p.counters.CopyTo(scope.Metrics())
		wakeups := scope.Metrics().At(0).Sum().DataPoints()
		failures := scope.Metrics().At(1).Sum().DataPoints()
		wakeups.EnsureCapacity(len(bindings) * len(reasons))
		failures.EnsureCapacity(len(bindings) * len(reasons))
		for _, b := range bindings {
			for _, reason := range reasons {
				p.appendCount(wakeups, b, reason, b.wakeups[reason], ts)
				p.appendCount(failures, b, reason, b.failures[reason], ts)
			}
		}
	}
}

func (p *wakeProcessor) appendCount(points pmetric.NumberDataPointSlice, b *binding, reason schema.AttributeReason, count int64, ts pcommon.Timestamp) {
	point := points.AppendEmpty()
	point.SetStartTimestamp(p.startTime)
	point.SetTimestamp(ts)
	point.SetIntValue(count)
	attrs := point.Attributes()
	// Room for the reason too, so that CopyTo and PutStr share one slice.
	attrs.EnsureCapacity(b.attributes.Len() + 1)
	b.attributes.CopyTo(attrs)
	attrs.PutStr(reasonKey, reason.String())
}

func bindingFields(key bindingKey) []zap.Field {
	return []zap.Field{
		zap.String(topicKey, key.topic),
		zap.String(groupKey, key.group),
		zap.String(functionKey, key.function),
	}
}

// sleepContext waits d or until ctx is done.
func sleepContext(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
