package slimfaaswakeprocessor // import "github.com/kafkawake/kafkawake/processor/slimfaaswakeprocessor"

import (
	"context"
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

// wakeCall is one decided wake of a binding's function.
type wakeCall struct {
	key    bindingKey
	reason schema.AttributeReason
	rules  WakeRules
	url    string
}

// attemptOutcome classifies the answer to one wake request.
type attemptOutcome int

const (
	// attemptSucceeded: SlimFaas answered 2xx.
	attemptSucceeded attemptOutcome = iota
	// attemptRejected: a 4xx other than 429; asking again soon would not help.
	attemptRejected
	// attemptThrottled: 429 or 503; SlimFaas may say when to come back.
	attemptThrottled
	// attemptFailed: any other status, a timeout or a connection error.
	attemptFailed
)

type attemptResult struct {
	outcome attemptOutcome
	status  int
	// retryAfter is the delay SlimFaas asked for with a 429 or 503, or 0.
	retryAfter time.Duration
	err        error
}

// postWake sends one wake request and classifies the answer. now is used to
// turn a Retry-After date into a delay.
func postWake(ctx context.Context, client *http.Client, url string, now func() time.Time) attemptResult {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, http.NoBody)
	if err != nil {
		return attemptResult{outcome: attemptRejected, err: fmt.Errorf("build wake request for %s: %w", url, err)}
	}
	resp, err := client.Do(req)
	if err != nil {
		return attemptResult{outcome: attemptFailed, err: err}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrainedBody))
	_ = resp.Body.Close()

	res := attemptResult{status: resp.StatusCode}
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		res.outcome = attemptSucceeded
		return res
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		res.outcome = attemptThrottled
		res.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), now())
	case code >= 400 && code < 500:
		res.outcome = attemptRejected
	default:
		res.outcome = attemptFailed
	}
	res.err = fmt.Errorf("SlimFaas answered %s", resp.Status)
	return res
}

// parseRetryAfter reads a Retry-After value, in seconds or as an HTTP date,
// as a delay from now. It returns 0 when the value is absent or invalid.
func parseRetryAfter(value string, now time.Time) time.Duration {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0
	}
	if seconds, err := strconv.ParseInt(value, 10, 64); err == nil {
		if seconds <= 0 || seconds > int64(time.Duration(1<<63-1)/time.Second) {
			return 0
		}
		return time.Duration(seconds) * time.Second
	}
	if date, err := http.ParseTime(value); err == nil {
		return max(0, date.Sub(now))
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
// records the result of every attempt.
func (p *wakeProcessor) deliver(client *http.Client, call wakeCall) {
	defer p.calls.Done()
	defer p.releaseFunction(call.key.function)

	deadline := p.now().Add(p.cfg.retryWindow(call.rules))
	backOff := newBackOff(p.cfg.RetryOnFailure)
	for attempt := 1; ; attempt++ {
		res, ok := p.attempt(client, call.url)
		if !ok {
			// Cancelled by Shutdown: not an answer from SlimFaas.
			return
		}
		retryIn, retry := p.nextRetry(res, backOff, p.now(), deadline)
		p.recordAttempt(call, res, attempt, retryIn, retry)
		if !retry || p.sleep(p.runCtx, retryIn) != nil {
			return
		}
	}
}

// nextRetry says whether and when a failed attempt is retried: after the
// Retry-After SlimFaas asked for, or else after the next backoff delay, as
// long as the retry starts before deadline.
func (p *wakeProcessor) nextRetry(res attemptResult, backOff *backoff.ExponentialBackOff, now, deadline time.Time) (time.Duration, bool) {
	if !p.cfg.RetryOnFailure.Enabled || (res.outcome != attemptThrottled && res.outcome != attemptFailed) {
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
	delete(p.inFlight, function)
}

// recordAttempt counts one attempt and sets when the binding may be woken
// again: a success starts the cooldown, a rejection waits for it too, a
// Retry-After holds the binding that long, and any other failure leaves it
// free to try at its next observation. retry tells whether this call tries
// again, after retryIn.
func (p *wakeProcessor) recordAttempt(call wakeCall, res attemptResult, attempt int, retryIn time.Duration, retry bool) {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.bindings.byKey[call.key]
	fields := append(bindingFields(call.key),
		zap.String("url", call.url), zap.String("reason", call.reason.String()),
		zap.Int("attempt", attempt), zap.Int("status", res.status))
	switch res.outcome {
	case attemptSucceeded:
		b.wakeups[call.reason]++
		b.state.notBefore = now.Add(call.rules.Cooldown)
		p.logger.Info("Woke function", fields...)
		return
	case attemptRejected:
		b.state.notBefore = now.Add(call.rules.Cooldown)
		fields = append(fields, zap.Duration("next_try_in", call.rules.Cooldown))
	case attemptThrottled:
		if hold := now.Add(res.retryAfter); hold.After(b.state.notBefore) {
			b.state.notBefore = hold
		}
		fields = append(fields, zap.Duration("retry_after", res.retryAfter))
	}
	b.failures[call.reason]++
	if retry {
		fields = append(fields, zap.Duration("retry_in", retryIn))
	}
	p.logger.Warn("Wake attempt failed", append(fields, zap.Bool("retrying", retry), zap.Error(res.err))...)
}
