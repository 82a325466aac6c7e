package slimfaaswakeprocessor

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"

	schema "github.com/kafkawake/kafkawake/internal/metadata"
	"github.com/kafkawake/kafkawake/internal/slimfaastest"
	"github.com/kafkawake/kafkawake/processor/slimfaaswakeprocessor/internal/metadata"
)

// A binding absent from the input for longer than binding_expiry is
// forgotten: its counters are no longer emitted, and when it comes back it
// starts like a new binding, with a consumed baseline (no wake for what it
// consumed meanwhile) and counters from 0 with a new start time.
func TestBindingExpiry(t *testing.T) {
	const expiry = 5 * time.Minute
	a := bindingID{"orders", "orders-group", "shop"}
	b := bindingID{"payments", "payments-group", "pay"}
	woken := withCounts(zeroCounters(a), map[counterID]int64{wakeups(a.topic, a.group, a.function, schema.AttributeReasonPending): 1})
	tests := []struct {
		name          string
		absent        time.Duration
		wantForgotten bool
	}{
		{"back within the expiry", expiry - time.Second, false},
		{"back exactly at the expiry", expiry, false},
		{"back just after the expiry", expiry + time.Nanosecond, true},
		{"back much later", 24 * time.Hour, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := dryRunConfig()
			cfg.BindingExpiry = expiry
			cfg.Defaults.Cooldown = time.Hour
			tp := newTestProcessor(t, cfg)

			out := tp.process(t, batch([]point{pendingPoint(a.topic, a.group, a.function, 1), consumedPoint(a.topic, a.group, a.function, 100)}))
			assert.Equal(t, woken, counters(t, out, 0))

			// Another replica takes a over; this one still sees b.
			tp.clock.Advance(tt.absent / 2)
			out = tp.process(t, batch([]point{pendingPoint(b.topic, b.group, b.function, 0)}))
			assert.Equal(t, zeroCounters(b), counters(t, out, 0), "no counters of an absent binding")
			tp.clock.Advance(tt.absent - tt.absent/2)

			out = tp.process(t, batch([]point{pendingPoint(a.topic, a.group, a.function, 0), consumedPoint(a.topic, a.group, a.function, 900)}))
			back := tp.clock.Now()
			startOf := func() pcommon.Timestamp {
				for _, sm := range out.ResourceMetrics().At(0).ScopeMetrics().All() {
					if sm.Scope().Name() == metadata.ScopeName {
						return sm.Metrics().At(0).Sum().DataPoints().At(0).StartTimestamp()
					}
				}
				return 0
			}
			if tt.wantForgotten {
				assert.Equal(t, zeroCounters(a), counters(t, out, 0), "counters restart at 0")
				assert.Equal(t, pcommon.NewTimestampFromTime(back), startOf())
				assert.Equal(t, []loggedDecision{dryRun, idle, idle}, decisions(tp.logs), "900 is a new baseline, not activity")
			} else {
				assert.Equal(t, woken, counters(t, out, 0))
				assert.Equal(t, pcommon.NewTimestampFromTime(testStart), startOf())
				assert.Equal(t, []loggedDecision{dryRun, idle, cooldown}, decisions(tp.logs), "800 consumed is activity, in cooldown")
			}
		})
	}
}

// A wake call of a binding forgotten while it runs records nothing on the
// binding and is not retried; the binding, when back, starts anew.
func TestCallOfForgottenBindingIsIgnored(t *testing.T) {
	release := make(chan struct{})
	slimfaas := slimfaastest.NewScripted(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 0 {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	cfg := configFor(slimfaas.URL)
	cfg.BindingExpiry = time.Minute
	tp := newTestProcessor(t, cfg)
	a := bindingID{"orders", "orders-group", "shop"}
	pending := batch([]point{pendingPoint(a.topic, a.group, a.function, 1)})

	tp.process(t, pending)
	require.Eventually(t, func() bool { return len(slimfaas.Calls()) == 1 }, 10*time.Second, time.Millisecond)
	tp.clock.Advance(time.Minute + time.Second)
	tp.process(t, batch([]point{pendingPoint("other", "g", "other-fn", 0)}))
	require.Nil(t, tp.lookup(0, a), "forgotten")
	close(release)
	tp.waitForCalls(t)

	assert.Empty(t, tp.Sleeps(), "not retried")
	assert.Len(t, slimfaas.Calls(), 1)
	failed := tp.logs.FilterMessage("Wake attempt failed").All()
	require.Len(t, failed, 1)
	assert.Equal(t, false, failed[0].ContextMap()["retrying"])
	assert.Nil(t, tp.lookup(0, a), "the result did not bring the binding back")

	out := tp.process(t, batch([]point{pendingPoint(a.topic, a.group, a.function, 1)}))
	assert.Equal(t, zeroCounters(a), counters(t, out, 0), "the failure counted on no binding")
	tp.waitForCalls(t)
	assert.Len(t, slimfaas.Calls(), 2, "a 500 holds nothing: the returning binding calls at once")
}

// Forgotten bindings and idle functions leave memory within a quarter of the
// expiry after they are forgotten.
func TestSweepFreesForgottenBindings(t *testing.T) {
	slimfaas := slimfaastest.NewScripted(t, answerScript(scripted{status: http.StatusTooManyRequests, retryAfter: "60"}))
	cfg := configFor(slimfaas.URL)
	cfg.BindingExpiry = 4 * time.Minute
	tp := newTestProcessor(t, cfg)
	a := bindingID{"orders", "orders-group", "shop"}
	b := bindingID{"payments", "payments-group", "pay"}
	size := func() (bindings, functions int) {
		tp.mu.Lock()
		defer tp.mu.Unlock()
		return len(tp.bindings.byKey), len(tp.bindings.functions.byName)
	}

	tp.process(t, batch([]point{pendingPoint(a.topic, a.group, a.function, 1)}))
	tp.waitForCalls(t)
	bindings, functions := size()
	assert.Equal(t, []int{1, 1}, []int{bindings, functions}, "a, and shop held for 60s")

	tp.clock.Advance(4*time.Minute + time.Second)
	tp.process(t, batch([]point{pendingPoint(b.topic, b.group, b.function, 0)}))
	bindings, functions = size()
	assert.Equal(t, []int{1, 0}, []int{bindings, functions}, "only b")
	assert.Nil(t, tp.lookup(0, a))
}

// Points of one metric that do not follow the bindings' order in the
// batch (a metric some bindings lack) still land on their own bindings:
// the binding at the same position is only a hint.
func TestPointsOutOfTheBatchOrderFindTheirBindings(t *testing.T) {
	tp := newTestProcessor(t, configFor(unreachableEndpoint))
	tp.process(t, batch([]point{
		pendingPoint("t", "g", "a", 0),
		pendingPoint("t", "g", "b", 3),
		consumedPoint("t", "g", "b", 5), // the consumed metric's first point
		consumedPoint("t", "g", "c", 7), // listed after a and b
	}))

	for _, tc := range []struct {
		function    string
		hasPending  bool
		pending     int64
		hasConsumed bool
		consumed    int64
	}{
		{function: "a", hasPending: true, pending: 0},
		{function: "b", hasPending: true, pending: 3, hasConsumed: true, consumed: 5},
		{function: "c", hasConsumed: true, consumed: 7},
	} {
		b := tp.lookup(0, bindingID{topic: "t", group: "g", function: tc.function})
		require.NotNil(t, b, tc.function)
		assert.Equal(t, tc.hasPending, b.seen.hasPending, "%s has pending", tc.function)
		assert.Equal(t, tc.pending, b.seen.pending, "%s pending", tc.function)
		assert.Equal(t, tc.hasConsumed, b.seen.hasConsumed, "%s has consumed", tc.function)
		assert.Equal(t, tc.consumed, b.seen.consumed, "%s consumed", tc.function)
	}
}
