package slimfaaswakeprocessor

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configretry"

	"github.com/kafkawake/kafkawake/internal/ctxsleep"
	schema "github.com/kafkawake/kafkawake/internal/metadata"
	"github.com/kafkawake/kafkawake/internal/slimfaastest"
)

// scripted is one answer of a scripted fake SlimFaas.
type scripted struct {
	status     int
	retryAfter string
	// hang holds the request until the client gives up.
	hang bool
}

// answerScript answers the n-th request with script[n], and later requests
// with the last entry.
func answerScript(script ...scripted) func(http.ResponseWriter, *http.Request, int) {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		s := script[min(n, len(script)-1)]
		if s.hang {
			<-r.Context().Done()
			return
		}
		if s.retryAfter != "" {
			w.Header().Set("Retry-After", s.retryAfter)
		}
		w.WriteHeader(s.status)
	}
}

func seconds(values ...float64) []time.Duration {
	out := make([]time.Duration, len(values))
	for i, v := range values {
		out[i] = time.Duration(v * float64(time.Second))
	}
	return out
}

func TestWakeDeliveryScenarios(t *testing.T) {
	// Backoff delays of the default retry_on_failure until they would pass
	// the default 30s cooldown: 1s × 1.5^n.
	untilCooldown := seconds(1, 1.5, 2.25, 3.375, 5.0625, 7.59375)

	tests := []struct {
		name   string
		script []scripted
		// closedPort points the processor at a port nobody listens on.
		closedPort bool
		timeout    time.Duration
		// wantAttempts is how many requests the call makes.
		wantAttempts int
		wantSleeps   []time.Duration
		wantWakeups  int64
		wantFailures int64
		// wantHold is how long after the call the binding waits before its
		// next wake; 0 means at its next observation.
		wantHold time.Duration
		// functionHeld tells that the wait is a hold of the function rather
		// than the binding's cooldown.
		functionHeld bool
	}{
		{
			name:         "204",
			script:       []scripted{{status: http.StatusNoContent}},
			wantAttempts: 1, wantWakeups: 1, wantHold: defaultCooldown,
		},
		{
			name:         "404 is not retried and holds the function for the cooldown",
			script:       []scripted{{status: http.StatusNotFound}},
			wantAttempts: 1, wantFailures: 1, wantHold: defaultCooldown, functionHeld: true,
		},
		{
			name:         "429 with Retry-After in seconds, then 204",
			script:       []scripted{{status: http.StatusTooManyRequests, retryAfter: "7"}, {status: http.StatusNoContent}},
			wantAttempts: 2, wantSleeps: seconds(7), wantWakeups: 1, wantFailures: 1, wantHold: defaultCooldown,
		},
		{
			name: "503 with Retry-After as an HTTP date, then 204",
			script: []scripted{
				{status: http.StatusServiceUnavailable, retryAfter: testStart.Add(12 * time.Second).Format(http.TimeFormat)},
				{status: http.StatusNoContent},
			},
			wantAttempts: 2, wantSleeps: seconds(12), wantWakeups: 1, wantFailures: 1, wantHold: defaultCooldown,
		},
		{
			name:         "429 with Retry-After beyond the cooldown holds the function",
			script:       []scripted{{status: http.StatusTooManyRequests, retryAfter: "120"}, {status: http.StatusNoContent}},
			wantAttempts: 1, wantFailures: 1, wantHold: 120 * time.Second, functionHeld: true,
		},
		{
			name:         "429 with a huge Retry-After in seconds holds the function 5 minutes",
			script:       []scripted{{status: http.StatusTooManyRequests, retryAfter: "9000000000"}, {status: http.StatusNoContent}},
			wantAttempts: 1, wantFailures: 1, wantHold: maxRetryAfter, functionHeld: true,
		},
		{
			name:         "429 with a Retry-After in seconds beyond int64 holds the function 5 minutes",
			script:       []scripted{{status: http.StatusTooManyRequests, retryAfter: "99999999999999999999"}, {status: http.StatusNoContent}},
			wantAttempts: 1, wantFailures: 1, wantHold: maxRetryAfter, functionHeld: true,
		},
		{
			name: "503 with a Retry-After date in year 9999 holds the function 5 minutes",
			script: []scripted{
				{status: http.StatusServiceUnavailable, retryAfter: "Fri, 31 Dec 9999 23:59:59 GMT"},
				{status: http.StatusNoContent},
			},
			wantAttempts: 1, wantFailures: 1, wantHold: maxRetryAfter, functionHeld: true,
		},
		{
			name:         "503 without Retry-After backs off, then 204",
			script:       []scripted{{status: http.StatusServiceUnavailable}, {status: http.StatusNoContent}},
			wantAttempts: 2, wantSleeps: seconds(1), wantWakeups: 1, wantFailures: 1, wantHold: defaultCooldown,
		},
		{
			name:         "500 is retried until the cooldown is spent",
			script:       []scripted{{status: http.StatusInternalServerError}},
			wantAttempts: 7, wantSleeps: untilCooldown, wantFailures: 7,
		},
		{
			name:         "hang past the timeout, then 204",
			script:       []scripted{{hang: true}, {status: http.StatusNoContent}},
			timeout:      50 * time.Millisecond,
			wantAttempts: 2, wantSleeps: seconds(1), wantWakeups: 1, wantFailures: 1, wantHold: defaultCooldown,
		},
		{
			name:         "closed port is retried until the cooldown is spent",
			script:       []scripted{{status: http.StatusNoContent}},
			closedPort:   true,
			wantAttempts: 7, wantSleeps: untilCooldown, wantFailures: 7,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			slimfaas := slimfaastest.NewScripted(t, answerScript(tt.script...))
			cfg := configFor(slimfaas.URL)
			if tt.timeout > 0 {
				cfg.ClientConfig.Timeout = tt.timeout
			}
			if tt.closedPort {
				slimfaas.Close()
			}
			tp := newTestProcessor(t, cfg)
			key := bindingID{"orders", "orders-group", "orders-fn"}
			pending := func() {
				tp.process(t, batch([]point{pendingPoint(key.topic, key.group, key.function, 1)}))
			}

			pending()
			tp.waitForCalls(t)

			if !tt.closedPort {
				assert.Len(t, slimfaas.Calls(), tt.wantAttempts)
			}
			assert.Equal(t, tt.wantSleeps, tp.Sleeps())
			wakeupCount, failureCount := tp.counts(key, schema.AttributeReasonPending)
			assert.Equal(t, tt.wantWakeups, wakeupCount)
			assert.Equal(t, tt.wantFailures, failureCount)
			assert.Len(t, tp.logs.FilterMessage("Wake attempt failed").All(), int(tt.wantFailures))

			if tt.wantHold > 0 {
				tp.clock.Advance(tt.wantHold - time.Millisecond)
				pending()
				tp.clock.Advance(time.Millisecond)
			}
			pending()
			want := []loggedDecision{called, called}
			switch {
			case tt.functionHeld:
				want = []loggedDecision{called, held, called}
			case tt.wantHold > 0:
				want = []loggedDecision{called, cooldown, called}
			}
			assert.Equal(t, want, decisions(tp.logs))
			tp.waitForCalls(t)
		})
	}
}

// counts returns the cumulative wakeups and failures for reason of the
// binding id in the first resource of a test batch.
func (tp *testProcessor) counts(id bindingID, reason schema.AttributeReason) (wakeupCount, failureCount int64) {
	b := tp.lookup(0, id)
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return b.wakeups[reason], b.failures[reason]
}

func TestRetriesStopAtMaxElapsedTime(t *testing.T) {
	slimfaas := slimfaastest.NewScripted(t, slimfaastest.Status(http.StatusBadGateway))
	cfg := configFor(slimfaas.URL)
	cfg.RetryOnFailure.MaxElapsedTime = 4 * time.Second
	tp := newTestProcessor(t, cfg)

	tp.process(t, batch([]point{pendingPoint("t", "g", "f", 1)}))
	tp.waitForCalls(t)

	assert.Equal(t, seconds(1, 1.5), tp.Sleeps(), "a third delay of 2.25s would end after 4s")
	assert.Len(t, slimfaas.Calls(), 3)
}

func TestShutdownInterruptsRetryWait(t *testing.T) {
	slimfaas := slimfaastest.NewScripted(t, slimfaastest.Status(http.StatusServiceUnavailable))
	cfg := configFor(slimfaas.URL)
	cfg.Defaults.Cooldown = 2 * time.Hour
	cfg.RetryOnFailure.InitialInterval = time.Hour
	cfg.RetryOnFailure.MaxInterval = time.Hour
	tp := newTestProcessor(t, cfg)
	waiting := make(chan time.Duration, 1)
	tp.sleep = func(ctx context.Context, d time.Duration) error {
		waiting <- d
		return ctxsleep.Sleep(ctx, d)
	}

	tp.process(t, batch([]point{pendingPoint("t", "g", "f", 1)}))
	assert.Equal(t, time.Hour, <-waiting)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, tp.shutdown(ctx))

	wakeupCount, failureCount := tp.counts(bindingID{"t", "g", "f"}, schema.AttributeReasonPending)
	assert.Zero(t, wakeupCount)
	assert.Equal(t, int64(1), failureCount)
	assert.Len(t, slimfaas.Calls(), 1)
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	tests := []struct {
		value string
		want  time.Duration
	}{
		{"", 0},
		{"5", 5 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"0", 0},
		{"-3", 0},
		{"1.5", 0},
		{"300", maxRetryAfter},
		{"301", maxRetryAfter},
		{"9000000000", maxRetryAfter},
		{"1000000000000", maxRetryAfter},
		{"9999999999999", maxRetryAfter},
		{"99999999999999999999", maxRetryAfter},
		{"-99999999999999999999", 0},
		{now.Add(5*time.Minute + time.Second).Format(http.TimeFormat), maxRetryAfter},
		{"Fri, 31 Dec 9999 23:59:59 GMT", maxRetryAfter},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"Wed, 04 Mar 2026 05:06:17 GMT", 10 * time.Second},
		{"Wednesday, 04-Mar-26 05:06:17 GMT", 10 * time.Second},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, parseRetryAfter(tt.value, now), "Retry-After: %q", tt.value)
	}
}

func TestBackOffFollowsTheConfiguration(t *testing.T) {
	cfg := configretry.NewDefaultBackOffConfig()
	cfg.InitialInterval = time.Second
	cfg.MaxInterval = 3 * time.Second
	cfg.Multiplier = 2
	cfg.RandomizationFactor = 0.5

	b := newBackOff(cfg)
	// Intervals 1s, 2s, then capped at 3s, each spread by ±50%.
	for _, interval := range []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second} {
		delay := b.NextBackOff()
		assert.GreaterOrEqual(t, delay, interval/2)
		assert.LessOrEqual(t, delay, interval*3/2)
	}
}
