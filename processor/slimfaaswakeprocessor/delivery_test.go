package slimfaaswakeprocessor

import (
	"context"
	"fmt"
	"net/http"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/pdata/pmetric"

	schema "github.com/kafkawake/kafkawake/internal/metadata"
	"github.com/kafkawake/kafkawake/internal/slimfaastest"
)

func TestWakeCallsSlimFaasAndStartsCooldown(t *testing.T) {
	slimfaas := slimfaastest.NewScripted(t, slimfaastest.Status(http.StatusNoContent))
	cfg := configFor(slimfaas.URL)
	cfg.ClientConfig.Headers = configopaque.MapList{{Name: "X-Wake-Source", Value: "kafkawake"}}
	tp := newTestProcessor(t, cfg)
	key := bindingID{"orders", "orders-group", "a b/c"}
	pendingWakes := wakeups(key.topic, key.group, key.function, schema.AttributeReasonPending)
	pending := func() pmetric.Metrics { return batch([]point{pendingPoint(key.topic, key.group, key.function, 1)}) }

	out := tp.process(t, pending())
	assert.Equal(t, zeroCounters(key), counters(t, out, 0), "the call's result is not awaited")
	tp.waitForCalls(t)

	reqs := slimfaas.Calls()
	require.Len(t, reqs, 1)
	assert.Equal(t, http.MethodPost, reqs[0].Method)
	assert.Equal(t, "/wake-function/a%20b%2Fc", reqs[0].URI)
	assert.Empty(t, reqs[0].Body)
	assert.Equal(t, "kafkawake", reqs[0].Header.Get("X-Wake-Source"))

	tp.clock.Advance(defaultCooldown - time.Second)
	out = tp.process(t, pending())
	assert.Equal(t, withCounts(zeroCounters(key), map[counterID]int64{pendingWakes: 1}), counters(t, out, 0))
	tp.waitForCalls(t)
	assert.Len(t, slimfaas.Calls(), 1, "in cooldown")

	tp.clock.Advance(time.Second)
	tp.process(t, pending())
	tp.waitForCalls(t)
	assert.Len(t, slimfaas.Calls(), 2, "still pending when the cooldown ends")
	out = tp.process(t, pending())
	assert.Equal(t, int64(2), counters(t, out, 0)[pendingWakes])
	assert.Equal(t, []loggedDecision{called, cooldown, called, cooldown}, decisions(tp.logs))
}

func TestFailedWakeWithoutRetriesDoesNotStartCooldownOverHTTP(t *testing.T) {
	for _, status := range []int{http.StatusInternalServerError, http.StatusServiceUnavailable, http.StatusTooManyRequests} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			slimfaas := slimfaastest.NewScripted(t, slimfaastest.Status(status))
			cfg := configFor(slimfaas.URL)
			cfg.RetryOnFailure.Enabled = false
			tp := newTestProcessor(t, cfg)
			key := bindingID{"t", "g", "f"}

			tp.process(t, batch([]point{pendingPoint("t", "g", "f", 1)}))
			tp.waitForCalls(t)
			tp.clock.Advance(time.Second)
			out := tp.process(t, batch([]point{pendingPoint("t", "g", "f", 1)}))
			tp.waitForCalls(t)

			assert.Equal(t, withCounts(zeroCounters(key), map[counterID]int64{
				failures("t", "g", "f", schema.AttributeReasonPending): 1,
			}), counters(t, out, 0), "a failure is no wakeup")
			assert.Len(t, slimfaas.Calls(), 2, "tried again at the next observation")
			assert.Equal(t, []loggedDecision{called, called}, decisions(tp.logs))
		})
	}
}

func TestRejectedWakeWaitsForCooldown(t *testing.T) {
	slimfaas := slimfaastest.NewScripted(t, slimfaastest.Status(http.StatusNotFound))
	tp := newTestProcessor(t, configFor(slimfaas.URL))
	key := bindingID{"t", "g", "unknown-function"}
	pending := func() pmetric.Metrics { return batch([]point{pendingPoint(key.topic, key.group, key.function, 1)}) }

	tp.process(t, pending())
	tp.waitForCalls(t)
	tp.clock.Advance(time.Second)
	out := tp.process(t, pending())
	assert.Equal(t, withCounts(zeroCounters(key), map[counterID]int64{
		failures(key.topic, key.group, key.function, schema.AttributeReasonPending): 1,
	}), counters(t, out, 0))
	assert.Len(t, slimfaas.Calls(), 1, "a 404 is not retried before the cooldown")

	tp.clock.Advance(defaultCooldown)
	tp.process(t, pending())
	tp.waitForCalls(t)
	assert.Len(t, slimfaas.Calls(), 2)
	assert.Equal(t, []loggedDecision{called, held, called}, decisions(tp.logs))
}

func TestOneWakeInFlightPerFunction(t *testing.T) {
	release := make(chan struct{})
	slimfaas := slimfaastest.NewScripted(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusNoContent)
	})
	tp := newTestProcessor(t, configFor(slimfaas.URL))
	// Two topics feed the same function.
	orders := bindingID{"orders", "g", "shop"}
	refunds := bindingID{"refunds", "g", "shop"}
	both := func() pmetric.Metrics {
		return batch([]point{
			pendingPoint(orders.topic, orders.group, orders.function, 1),
			pendingPoint(refunds.topic, refunds.group, refunds.function, 1),
		})
	}

	tp.process(t, both())
	require.Eventually(t, func() bool { return len(slimfaas.Calls()) == 1 }, 10*time.Second, time.Millisecond)
	tp.process(t, both())
	close(release)
	tp.waitForCalls(t)
	assert.Len(t, slimfaas.Calls(), 1)
	assert.Equal(t, []loggedDecision{called, inFlight, inFlight, inFlight}, decisions(tp.logs))

	// The cooldown belongs to the binding that woke the function.
	tp.clock.Advance(time.Second)
	tp.process(t, both())
	tp.waitForCalls(t)
	assert.Len(t, slimfaas.Calls(), 2)
	assert.Equal(t, []loggedDecision{cooldown, called}, decisions(tp.logs)[4:])
}

func TestConcurrentWakesAreBounded(t *testing.T) {
	var mu sync.Mutex
	active, maxActive := 0, 0
	release := make(chan struct{})
	slimfaas := slimfaastest.NewScripted(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		mu.Lock()
		active++
		maxActive = max(maxActive, active)
		mu.Unlock()
		select {
		case <-release:
		case <-r.Context().Done():
		}
		mu.Lock()
		active--
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	tp := newTestProcessor(t, configFor(slimfaas.URL))

	const functions = maxConcurrentWakes + 4
	var points []point
	for i := range functions {
		points = append(points, pendingPoint("t", "g", "fn-"+string(rune('a'+i)), 1))
	}
	tp.process(t, batch(points))
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return active == maxConcurrentWakes
	}, 10*time.Second, time.Millisecond)
	close(release)
	tp.waitForCalls(t)

	assert.Len(t, slimfaas.Calls(), functions)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, maxConcurrentWakes, maxActive)
}

func TestShutdownCancelsRunningWakes(t *testing.T) {
	slimfaas := slimfaastest.NewScripted(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		<-r.Context().Done()
		w.WriteHeader(http.StatusNoContent)
	})
	tp := newTestProcessor(t, configFor(slimfaas.URL))
	key := bindingID{"t", "g", "f"}

	tp.process(t, batch([]point{pendingPoint("t", "g", "f", 1)}))
	require.Eventually(t, func() bool { return len(slimfaas.Calls()) == 1 }, 10*time.Second, time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, tp.shutdown(ctx))

	out := tp.process(t, batch([]point{pendingPoint("t", "g", "f", 1)}))
	assert.Equal(t, zeroCounters(key), counters(t, out, 0), "a cancelled call is neither a wakeup nor a failure")
	assert.Equal(t, []loggedDecision{called, logged(outcomeWake, actionNotRunning)}, decisions(tp.logs))
}

// A Retry-After or a 4xx answered to one binding holds the function's URL:
// another binding of the function (another topic, another resource) does not
// call it before the hold ends, while other functions are called as usual.
func TestHoldStopsEveryBindingOfTheFunctionOverHTTP(t *testing.T) {
	tests := []struct {
		name   string
		answer scripted
		hold   time.Duration
	}{
		{"429 with Retry-After", scripted{status: http.StatusTooManyRequests, retryAfter: "120"}, 120 * time.Second},
		{"503 with Retry-After as an HTTP date", scripted{status: http.StatusServiceUnavailable, retryAfter: testStart.Add(90 * time.Second).Format(http.TimeFormat)}, 90 * time.Second},
		{"404", scripted{status: http.StatusNotFound}, defaultCooldown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			byPath := make(map[string]int)
			slimfaas := slimfaastest.NewScripted(t, func(w http.ResponseWriter, r *http.Request, _ int) {
				mu.Lock()
				first := byPath[r.URL.Path] == 0
				byPath[r.URL.Path]++
				mu.Unlock()
				if first && r.URL.Path == "/wake-function/shop" {
					answerScript(tt.answer)(w, r, 0)
					return
				}
				w.WriteHeader(http.StatusNoContent)
			})
			tp := newTestProcessor(t, configFor(slimfaas.URL))
			orders := pendingPoint("orders", "g", "shop", 1)
			refunds := pendingPoint("refunds", "g", "shop", 1)
			cart := pendingPoint("cart", "g", "cart", 1)
			calls := func(path string) int {
				mu.Lock()
				defer mu.Unlock()
				return byPath[path]
			}

			tp.process(t, batch([]point{orders}))
			tp.waitForCalls(t)
			require.Equal(t, 1, calls("/wake-function/shop"))

			// Two seconds later: a second topic, and the same topic on a
			// second resource, for the held function; another function.
			tp.clock.Advance(2 * time.Second)
			tp.process(t, batch([]point{orders, refunds, cart}, []point{orders}))
			tp.waitForCalls(t)
			assert.Equal(t, 1, calls("/wake-function/shop"), "held for every binding of shop")
			assert.Equal(t, 1, calls("/wake-function/cart"))

			tp.clock.Advance(tt.hold - 2*time.Second - time.Millisecond)
			tp.process(t, batch([]point{refunds}, []point{orders}))
			tp.waitForCalls(t)
			assert.Equal(t, 1, calls("/wake-function/shop"), "still held")

			tp.clock.Advance(time.Millisecond)
			tp.process(t, batch([]point{refunds}))
			tp.waitForCalls(t)
			assert.Equal(t, 2, calls("/wake-function/shop"), "called again when the hold ends")

			assert.Equal(t, []loggedDecision{
				called,
				held, held, called, held,
				held, held,
				called,
			}, decisions(tp.logs))
		})
	}
}

// A burst of wakes runs up to maxConcurrentWakes calls at once, so it opens
// about that many connections (a few more when a call starts just before
// another's connection is back in the pool); by default all of them are
// kept, and the next burst dials few: none to a few dozen (a loaded machine
// widens that race), where with 8 kept each burst of a thousand opened
// about 800. Bounding connections to SlimFaas with
// max_conns_per_host makes a burst queue for its connections instead: a
// thousand wakes twice over open no more than the bound.
func TestWakeBurstsReuseTheirConnections(t *testing.T) {
	const functions = 1000
	for _, tc := range []struct {
		name  string
		bound int // max_conns_per_host and max_idle_conns_per_host; 0: the defaults
		// first and again bound the connections the first and the second
		// burst open.
		first, again int64
	}{
		{name: "defaults", first: 2 * maxConcurrentWakes, again: maxConcurrentWakes / 2},
		{name: "bounded", bound: 16, first: 16, again: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			slimfaas := slimfaastest.New(t)
			cfg := configFor(slimfaas.URL)
			if tc.bound > 0 {
				cfg.ClientConfig.MaxConnsPerHost = tc.bound
				cfg.ClientConfig.Keepalive.Get().MaxIdleConnsPerHost = tc.bound
			}
			tp := newTestProcessor(t, cfg)

			points := make([]point, 0, functions)
			for i := range functions {
				points = append(points, pendingPoint("t", "g", fmt.Sprintf("fn-%d", i), 1))
			}
			tp.process(t, batch(points))
			tp.waitForCalls(t)
			first := slimfaas.Connections()
			tp.clock.Advance(time.Hour) // past every cooldown
			tp.process(t, batch(points))
			tp.waitForCalls(t)
			again := slimfaas.Connections() - first

			assert.LessOrEqual(t, first, tc.first, "connections opened by the first %d wakes", functions)
			assert.LessOrEqual(t, again, tc.again, "connections opened by the next %d wakes", functions)
			assert.Equal(t, 2*functions, slimfaas.TotalWakes(), "every wake was made")
		})
	}
}

// A burst of wakes larger than maxConcurrentWakes waits as data: only the
// calls that can run have a goroutine. Shutdown drops the calls that never
// started, which count neither as wakeups nor as failures.
func TestABurstOfWakesWaitsAsDataNotAsGoroutines(t *testing.T) {
	slimfaas := slimfaastest.NewScripted(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		<-r.Context().Done()
		w.WriteHeader(http.StatusNoContent)
	})
	tp := newTestProcessor(t, configFor(slimfaas.URL))

	const functions = 4 * maxConcurrentWakes
	var points []point
	for i := range functions {
		points = append(points, pendingPoint("t", "g", fmt.Sprintf("fn-%d", i), 1))
	}
	tp.process(t, batch(points))
	require.Eventually(t, func() bool { return len(slimfaas.Calls()) == maxConcurrentWakes }, 10*time.Second, time.Millisecond)
	assert.Equal(t, maxConcurrentWakes, goroutinesIn(t, "(*wakeProcessor).deliver"), "goroutines for %d wakes", functions)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, tp.shutdown(ctx))
	assert.Len(t, slimfaas.Calls(), maxConcurrentWakes, "no queued call starts after Shutdown")
	tp.mu.Lock()
	assert.False(t, tp.bindings.functions.inFlight(), "the dropped calls leave no function in flight")
	tp.mu.Unlock()
	out := tp.process(t, batch(points[:1]))
	assert.Equal(t, zeroCounters(bindingID{"t", "g", "fn-0"}), counters(t, out, 0))
}

// goroutinesIn counts the goroutines whose stack holds function.
func goroutinesIn(t *testing.T, function string) int {
	t.Helper()
	var stacks strings.Builder
	require.NoError(t, pprof.Lookup("goroutine").WriteTo(&stacks, 2))
	n := 0
	for _, g := range strings.Split(stacks.String(), "\n\n") {
		if strings.Contains(g, function) {
			n++
		}
	}
	return n
}
