package slimfaaswakeprocessor // import "github.com/kafkawake/kafkawake/processor/slimfaaswakeprocessor"

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"
	"go.opentelemetry.io/collector/config/configretry"
	"go.uber.org/zap"

	schema "github.com/kafkawake/kafkawake/internal/metadata"
)

// maxDrainedBody bounds how much of a response body is read so that the
// connection can be reused.
const maxDrainedBody = 4 << 10

// maxRetryAfter caps the delay SlimFaas may ask for: a broken or hostile
// Retry-After must not silence a function for years.
const maxRetryAfter = 5 * time.Minute

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

	res := attemptResult{status: resp.StatusCode}
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		res.kind = attemptSucceeded
		return res
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		res.kind = attemptThrottled
		res.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), now())
	case code >= 400 && code < 500:
		res.kind = attemptRejected
	default:
		res.kind = attemptFailed
	}
	res.err = fmt.Errorf("SlimFaas answered %s", resp.Status)
	return res
}

// parseRetryAfter reads a Retry-After value, in seconds or as an HTTP date,
// as a delay from now, capped at maxRetryAfter. It returns 0 when the value
// is absent, invalid or not in the future.
func parseRetryAfter(value string, now time.Time) time.Duration {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0
	}
	if seconds, err := strconv.ParseInt(value, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		// Out of range, ParseInt returns the nearest int64: huge is capped
		// like any value over the limit, hugely negative is in the past.
		if seconds <= 0 {
			return 0
		}
		return time.Duration(min(seconds, int64(maxRetryAfter/time.Second))) * time.Second
	}
	if date, err := http.ParseTime(value); err == nil {
		// Sub saturates, so a date in year 9999 is capped too.
		return min(max(0, date.Sub(now)), maxRetryAfter)
	}
	return 0
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

// retryWindow is how long after the first attempt a wake call may be retried.
func (cfg *Config) retryWindow(rules WakeRules) time.Duration {
	if !cfg.RetryOnFailure.Enabled {
		return 0
	}
	if limit := cfg.RetryOnFailure.MaxElapsedTime; limit > 0 && limit < rules.Cooldown {
		return limit
	}
	return rules.Cooldown
}

// deliver runs one wake call, with its retries, in its own goroutine and
// records the result of every attempt. It stops retrying once the binding is
// forgotten.
func (p *wakeProcessor) deliver(client *http.Client, call wakeCall) {
	defer p.calls.Done()
	defer p.releaseFunction(call.binding.key.function)

	deadline := p.now().Add(p.cfg.retryWindow(call.rules))
	backOff := newBackOff(p.cfg.RetryOnFailure)
	for attempt := 1; ; attempt++ {
		res, ok := p.attempt(client, call.url)
		if !ok {
			// Cancelled by Shutdown: not an answer from SlimFaas.
			return
		}
		retryIn, retry := p.nextRetry(res, backOff, p.now(), deadline)
		if !p.recordAttempt(call, res, attempt, retryIn, retry) || p.sleep(p.runCtx, retryIn) != nil {
			return
		}
	}
}

// nextRetry says whether and when a failed attempt is retried: after the
// Retry-After SlimFaas asked for, or else after the next backoff delay, as
// long as the retry starts before deadline.
func (p *wakeProcessor) nextRetry(res attemptResult, backOff *backoff.ExponentialBackOff, now, deadline time.Time) (time.Duration, bool) {
	if !p.cfg.RetryOnFailure.Enabled || (res.kind != attemptThrottled && res.kind != attemptFailed) {
		return 0, false
	}
	delay := res.retryAfter
	if delay == 0 {
		delay = backOff.NextBackOff()
	}
	return delay, !now.Add(delay).After(deadline)
}

// attempt sends one wake request once a call slot is free. It returns false
// when Shutdown cancelled it.
func (p *wakeProcessor) attempt(client *http.Client, url string) (attemptResult, bool) {
	select {
	case p.callSlots <- struct{}{}:
	case <-p.runCtx.Done():
		return attemptResult{}, false
	}
	defer func() { <-p.callSlots }()
	res := postWake(p.runCtx, client, url, p.now)
	return res, p.runCtx.Err() == nil
}

func (p *wakeProcessor) releaseFunction(function string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.bindings.functions[function]
	f.inFlight = false
	if f.idle(p.now()) {
		delete(p.bindings.functions, function)
		return
	}
	p.bindings.functions[function] = f
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
