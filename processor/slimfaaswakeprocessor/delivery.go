package slimfaaswakeprocessor // import "github.com/kafkawake/kafkawake/processor/slimfaaswakeprocessor"

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/cenkalti/backoff/v5"
	"go.opentelemetry.io/collector/config/configretry"
	"go.uber.org/zap"

	schema "github.com/kafkawake/kafkawake/internal/metadata"
)

// maxDrainedBody bounds how much of a response body is read so that the
// connection can be reused.
const maxDrainedBody = 4 << 10

// wakeCall is one decided wake of a binding's function.
type wakeCall struct {
	binding *binding
	reason  schema.AttributeReason
	rules   WakeRules
	url     string
}

// postWake sends one wake request and classifies the answer. now is used to
// turn a Retry-After date into a delay.
func postWake(ctx context.Context, client *http.Client, url string, now func() time.Time) attemptResult {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, http.NoBody)
	if err != nil {
		return attemptResult{kind: attemptRejected, err: fmt.Errorf("build wake request for %s: %w", url, err)}
	}
	resp, err := client.Do(req)
	if err != nil {
		return attemptResult{kind: attemptFailed, err: err}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrainedBody))
	_ = resp.Body.Close()
	return classifyAnswer(resp.StatusCode, resp.Status, resp.Header.Get("Retry-After"), resp.Header.Get("Location"), now())
}

// newBackOff builds the retry delays of one wake call from the
// configuration: exponential growth with jitter, capped at max_interval.
func newBackOff(cfg configretry.BackOffConfig) *backoff.ExponentialBackOff {
	b := &backoff.ExponentialBackOff{
		InitialInterval:     cfg.InitialInterval,
		RandomizationFactor: cfg.RandomizationFactor,
		Multiplier:          cfg.Multiplier,
		MaxInterval:         cfg.MaxInterval,
	}
	b.Reset()
	return b
}

// deliver runs one wake call, with its retries, in its own goroutine and
// records the result of every attempt. It stops retrying once the binding is
// forgotten.
func (p *wakeProcessor) deliver(client *http.Client, call wakeCall) {
	defer p.calls.Done()
	defer p.releaseFunction(call.binding.key.function)

	deadline := p.now().Add(retryWindow(p.cfg.RetryOnFailure, call.rules))
	backOff := newBackOff(p.cfg.RetryOnFailure)
	for attempt := 1; ; attempt++ {
		// The queue started the call with a slot; a retry waits for one.
		if attempt > 1 && !p.queue.acquire(p.runCtx) {
			return
		}
		res := postWake(p.runCtx, client, call.url, p.now)
		p.queue.release()
		if p.runCtx.Err() != nil {
			// Cancelled by Shutdown: not an answer from SlimFaas.
			return
		}
		retryIn, retry := nextRetry(p.cfg.RetryOnFailure.Enabled, res, backOff.NextBackOff, p.now(), deadline)
		if !p.recordAttempt(call, res, attempt, retryIn, retry) || p.sleep(p.runCtx, retryIn) != nil {
			return
		}
	}
}

func (p *wakeProcessor) releaseFunction(function string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bindings.functions.end(function, p.now())
}

// recordAttempt applies one attempt's result, logs it, and returns whether
// the call tries again: when retry asks for it (after retryIn) and the
// binding is still remembered.
func (p *wakeProcessor) recordAttempt(call wakeCall, res attemptResult, attempt int, retryIn time.Duration, retry bool) bool {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	current := p.applyAttempt(call.binding, call.reason, call.rules, res, now)
	retry = retry && current
	fields := append(bindingFields(call.binding.key),
		zap.String("url", call.url), zap.String("reason", call.reason.String()),
		zap.Int("attempt", attempt), zap.Int("status", res.status))
	switch res.kind {
	case attemptSucceeded:
		p.logger.Info("Woke function", fields...)
		return false
	case attemptRejected:
		fields = append(fields, zap.Duration("function_held_for", call.rules.Cooldown))
	case attemptThrottled:
		fields = append(fields, zap.Duration("retry_after", res.retryAfter))
	}
	if !current {
		fields = append(fields, zap.String("binding", "forgotten: no longer in the input"))
	}
	if retry {
		fields = append(fields, zap.Duration("retry_in", retryIn))
	}
	p.logger.Warn("Wake attempt failed", append(fields, zap.Bool("retrying", retry), zap.Error(res.err))...)
	return retry
}
