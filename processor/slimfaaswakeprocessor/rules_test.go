package slimfaaswakeprocessor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	schema "github.com/kafkawake/kafkawake/internal/metadata"
)

func TestEvaluate(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rules := WakeRules{MinPendingMessages: 3, Cooldown: 30 * time.Second, ActivityKeepAlive: time.Minute, MinConsumedDelta: 2}
	noKeepAlive := rules
	noKeepAlive.ActivityKeepAlive = 0

	pending := func(n int64) observation { return observation{pending: n, hasPending: true} }
	consumed := func(n int64) observation { return observation{consumed: n, hasConsumed: true} }
	both := func(p, c int64) observation {
		return observation{pending: p, hasPending: true, consumed: c, hasConsumed: true}
	}
	baseline := func(c int64) bindingState { return bindingState{consumed: c, hasConsumed: true} }

	tests := []struct {
		name      string
		rules     WakeRules
		prev      bindingState
		obs       observation
		function  functionState
		wantState bindingState
		want      decision
	}{
		{
			name: "pending below minimum is idle",
			obs:  pending(2), wantState: bindingState{},
			want: decision{outcome: outcomeIdle},
		},
		{
			name: "pending at minimum wakes",
			obs:  pending(3), wantState: bindingState{},
			want: decision{reason: schema.AttributeReasonPending, outcome: outcomeWake},
		},
		{
			name: "pending during cooldown waits",
			prev: bindingState{cooldownEnd: now.Add(10 * time.Second)}, obs: pending(50),
			wantState: bindingState{cooldownEnd: now.Add(10 * time.Second)},
			want:      decision{reason: schema.AttributeReasonPending, cooldownLeft: 10 * time.Second, outcome: outcomeCooldown},
		},
		{
			name: "wakes again when the cooldown has just ended",
			prev: bindingState{cooldownEnd: now}, obs: pending(50),
			wantState: bindingState{cooldownEnd: now},
			want:      decision{reason: schema.AttributeReasonPending, outcome: outcomeWake},
		},
		{
			name: "pending while the function is being woken waits",
			obs:  pending(50), function: functionState{inFlight: true}, wantState: bindingState{},
			want: decision{reason: schema.AttributeReasonPending, outcome: outcomeInFlight},
		},
		{
			name: "pending while the function is held waits for the hold",
			obs:  pending(50), function: functionState{heldUntil: now.Add(90 * time.Second)}, wantState: bindingState{},
			want: decision{reason: schema.AttributeReasonPending, holdLeft: 90 * time.Second, outcome: outcomeFunctionHeld},
		},
		{
			name: "the binding's cooldown is told first when the function is held too",
			prev: bindingState{cooldownEnd: now.Add(5 * time.Second)}, obs: pending(50),
			function:  functionState{heldUntil: now.Add(90 * time.Second), inFlight: true},
			wantState: bindingState{cooldownEnd: now.Add(5 * time.Second)},
			want:      decision{reason: schema.AttributeReasonPending, cooldownLeft: 5 * time.Second, holdLeft: 90 * time.Second, outcome: outcomeCooldown},
		},
		{
			name: "wakes when the function's hold has just ended",
			obs:  pending(50), function: functionState{heldUntil: now}, wantState: bindingState{},
			want: decision{reason: schema.AttributeReasonPending, outcome: outcomeWake},
		},
		{
			name: "a hold does not stop an idle binding from moving its baseline",
			prev: baseline(10), obs: consumed(10), function: functionState{heldUntil: now.Add(time.Minute)},
			wantState: baseline(10),
			want:      decision{holdLeft: time.Minute, outcome: outcomeIdle},
		},
		{
			name: "first consumed value is a baseline, not activity",
			obs:  consumed(1000), wantState: baseline(1000),
			want: decision{outcome: outcomeIdle},
		},
		{
			name: "consumption at the minimum delta is activity",
			prev: baseline(1000), obs: consumed(1002),
			wantState: bindingState{consumed: 1002, hasConsumed: true, lastActivity: now},
			want:      decision{reason: schema.AttributeReasonActivity, consumedDelta: 2, outcome: outcomeWake},
		},
		{
			name: "consumption below the minimum delta is not activity but moves the baseline",
			prev: baseline(1000), obs: consumed(1001),
			wantState: baseline(1001),
			want:      decision{consumedDelta: 1, outcome: outcomeIdle},
		},
		{
			name: "consumed going down re-baselines without activity",
			prev: baseline(1000), obs: consumed(10),
			wantState: baseline(10),
			want:      decision{outcome: outcomeIdle},
		},
		{
			name: "re-baseline keeps earlier activity alive",
			prev: bindingState{consumed: 1000, hasConsumed: true, lastActivity: now.Add(-10 * time.Second)}, obs: consumed(10),
			wantState: bindingState{consumed: 10, hasConsumed: true, lastActivity: now.Add(-10 * time.Second)},
			want:      decision{reason: schema.AttributeReasonActivity, outcome: outcomeWake},
		},
		{
			name: "active up to the keep-alive included",
			prev: bindingState{consumed: 5, hasConsumed: true, lastActivity: now.Add(-time.Minute)}, obs: consumed(5),
			wantState: bindingState{consumed: 5, hasConsumed: true, lastActivity: now.Add(-time.Minute)},
			want:      decision{reason: schema.AttributeReasonActivity, outcome: outcomeWake},
		},
		{
			name: "inactive after the keep-alive",
			prev: bindingState{consumed: 5, hasConsumed: true, lastActivity: now.Add(-time.Minute - time.Nanosecond)}, obs: consumed(5),
			wantState: bindingState{consumed: 5, hasConsumed: true, lastActivity: now.Add(-time.Minute - time.Nanosecond)},
			want:      decision{outcome: outcomeIdle},
		},
		{
			name:  "zero keep-alive disables activity wakes",
			rules: noKeepAlive, prev: baseline(1000), obs: consumed(2000),
			wantState: bindingState{consumed: 2000, hasConsumed: true, lastActivity: now},
			want:      decision{consumedDelta: 1000, outcome: outcomeIdle},
		},
		{
			name:  "zero keep-alive still wakes on pending",
			rules: noKeepAlive, prev: baseline(1000), obs: both(3, 2000),
			wantState: bindingState{consumed: 2000, hasConsumed: true, lastActivity: now},
			want:      decision{reason: schema.AttributeReasonPending, consumedDelta: 1000, outcome: outcomeWake},
		},
		{
			name: "pending and activity together",
			prev: baseline(1000), obs: both(7, 1500),
			wantState: bindingState{consumed: 1500, hasConsumed: true, lastActivity: now},
			want:      decision{reason: schema.AttributeReasonPendingAndActivity, consumedDelta: 500, outcome: outcomeWake},
		},
		{
			name: "activity is remembered when a batch lacks the consumed metric",
			prev: bindingState{consumed: 5, hasConsumed: true, lastActivity: now.Add(-time.Second)}, obs: pending(0),
			wantState: bindingState{consumed: 5, hasConsumed: true, lastActivity: now.Add(-time.Second)},
			want:      decision{reason: schema.AttributeReasonActivity, outcome: outcomeWake},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.rules
			if r == (WakeRules{}) {
				r = rules
			}
			gotState, got := evaluate(r, tt.prev, tt.function, tt.obs, now)
			assert.Equal(t, tt.wantState, gotState)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestAfterAttempt(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rules := WakeRules{MinPendingMessages: 1, Cooldown: 30 * time.Second, ActivityKeepAlive: time.Minute, MinConsumedDelta: 1}
	// An earlier state the attempt must keep, apart from the cooldown.
	prev := bindingState{consumed: 40, hasConsumed: true, lastActivity: now.Add(-time.Second), cooldownEnd: now.Add(-time.Hour)}
	cooled := prev
	cooled.cooldownEnd = now.Add(30 * time.Second)
	woken := attemptCounts{wakeups: 1}
	failed := attemptCounts{failures: 1}

	tests := []struct {
		name       string
		heldUntil  time.Time
		res        attemptResult
		wantState  bindingState
		wantHeld   time.Time
		wantCounts attemptCounts
	}{
		{
			name: "2xx counts a wakeup and starts the cooldown",
			res:  attemptResult{kind: attemptSucceeded, status: 204}, wantState: cooled, wantCounts: woken,
		},
		{
			name: "a dry run behaves as a 2xx",
			res:  attemptResult{kind: attemptDryRun}, wantState: cooled, wantCounts: woken,
		},
		{
			name:      "2xx leaves the function's hold as it is",
			heldUntil: now.Add(time.Minute), res: attemptResult{kind: attemptSucceeded, status: 200},
			wantState: cooled, wantHeld: now.Add(time.Minute), wantCounts: woken,
		},
		{
			name: "4xx holds the function for the cooldown, not the binding",
			res:  attemptResult{kind: attemptRejected, status: 404}, wantState: prev,
			wantHeld: now.Add(30 * time.Second), wantCounts: failed,
		},
		{
			name: "Retry-After holds the function that long, not the binding",
			res:  attemptResult{kind: attemptThrottled, status: 429, retryAfter: 2 * time.Minute}, wantState: prev,
			wantHeld: now.Add(2 * time.Minute), wantCounts: failed,
		},
		{
			name:      "a shorter Retry-After never shortens a hold",
			heldUntil: now.Add(4 * time.Minute),
			res:       attemptResult{kind: attemptThrottled, status: 503, retryAfter: time.Minute}, wantState: prev,
			wantHeld: now.Add(4 * time.Minute), wantCounts: failed,
		},
		{
			name: "429 without Retry-After holds nothing",
			res:  attemptResult{kind: attemptThrottled, status: 429}, wantState: prev, wantCounts: failed,
		},
		{
			name: "5xx, timeouts and refused connections hold nothing",
			res:  attemptResult{kind: attemptFailed, status: 500}, wantState: prev, wantCounts: failed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state, held, counts := afterAttempt(rules, prev, tt.heldUntil, tt.res, now)
			assert.Equal(t, tt.wantState, state)
			assert.Equal(t, tt.wantHeld, held)
			assert.Equal(t, tt.wantCounts, counts)
		})
	}
}

// The cooldown starts on a 2xx only: after any failure, the binding is out
// of cooldown as before, and only its function may be held.
func TestCooldownStartsOn2xxOnlyRule(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rules := WakeRules{MinPendingMessages: 1, Cooldown: 30 * time.Second, MinConsumedDelta: 1}
	for _, res := range []attemptResult{
		{kind: attemptRejected, status: 404},
		{kind: attemptThrottled, status: 429, retryAfter: time.Minute},
		{kind: attemptThrottled, status: 503},
		{kind: attemptFailed, status: 502},
		{kind: attemptFailed},
	} {
		state, _, _ := afterAttempt(rules, bindingState{}, time.Time{}, res, now)
		assert.Zero(t, state.cooldownEnd, "status %d", res.status)
	}
	state, _, _ := afterAttempt(rules, bindingState{}, time.Time{}, attemptResult{kind: attemptSucceeded, status: 202}, now)
	assert.Equal(t, now.Add(rules.Cooldown), state.cooldownEnd)
}

// A hold on function f stops every binding of f, whatever its own state, and
// no binding of another function.
func TestHoldOnFunctionStopsEveryBindingOfItRule(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rules := WakeRules{MinPendingMessages: 1, Cooldown: 30 * time.Second, ActivityKeepAlive: time.Minute, MinConsumedDelta: 1}
	_, heldUntil, _ := afterAttempt(rules, bindingState{}, time.Time{}, attemptResult{kind: attemptThrottled, status: 429, retryAfter: 2 * time.Minute}, now)
	functions := map[string]functionState{"f": {heldUntil: heldUntil}}

	bindings := []struct {
		function string
		state    bindingState
		obs      observation
		want     outcome
	}{
		{"f", bindingState{}, observation{pending: 5, hasPending: true}, outcomeFunctionHeld},
		{"f", bindingState{consumed: 1, hasConsumed: true}, observation{consumed: 9, hasConsumed: true}, outcomeFunctionHeld},
		{"f", bindingState{cooldownEnd: now.Add(-time.Second)}, observation{pending: 1, hasPending: true}, outcomeFunctionHeld},
		{"g", bindingState{}, observation{pending: 5, hasPending: true}, outcomeWake},
	}
	for i, b := range bindings {
		_, d := evaluate(rules, b.state, functions[b.function], b.obs, now.Add(time.Minute))
		assert.Equal(t, b.want, d.outcome, "binding %d of %s", i, b.function)
	}
	_, d := evaluate(rules, bindingState{}, functions["f"], observation{pending: 5, hasPending: true}, heldUntil)
	assert.Equal(t, outcomeWake, d.outcome, "once the hold ends")
}

// A mirrored wake starts the cooldown as a success does, holds nothing and
// counts nothing.
func TestMirroredWakeStartsTheCooldownOnly(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rules := WakeRules{Cooldown: 30 * time.Second}
	held := now.Add(time.Minute)
	state, heldUntil, counts := afterAttempt(rules, bindingState{}, held, attemptResult{kind: attemptMirrored}, now)
	assert.Equal(t, now.Add(30*time.Second), state.cooldownEnd)
	assert.Equal(t, held, heldUntil)
	assert.Equal(t, attemptCounts{}, counts)
	succeeded, _, _ := afterAttempt(rules, bindingState{}, held, attemptResult{kind: attemptSucceeded}, now)
	assert.Equal(t, succeeded.cooldownEnd, state.cooldownEnd, "the same cooldown as the owner's success")
	assert.Equal(t, now, state.mirroredAt, "remembered as a mirror")
	assert.True(t, succeeded.mirroredAt.IsZero())
}

// A binding that moves here during a mirrored cooldown is woken if nothing
// was consumed since the mirror: the former owner may have left or died
// before its wake. Once consumption shows the wake happened, the cooldown
// holds.
func TestAMirroredCooldownHoldsOnlyWhenTheWakeShowed(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rules := WakeRules{Cooldown: time.Hour, MinPendingMessages: 1, MinConsumedDelta: 1, ActivityKeepAlive: time.Minute}
	pendingHere := observation{pending: 5, hasPending: true, consumed: 10, hasConsumed: true, owner: ownerHere}
	elsewhere := pendingHere
	elsewhere.owner = ownerElsewhere

	state, d := evaluate(rules, bindingState{}, functionState{}, elsewhere, t0)
	assert.Equal(t, outcomeWake, d.outcome)
	state, _, _ = afterAttempt(rules, state, time.Time{}, attemptResult{kind: attemptMirrored}, t0)

	_, d = evaluate(rules, state, functionState{}, pendingHere, t0.Add(time.Second))
	assert.Equal(t, outcomeWake, d.outcome, "moved here, still pending, nothing consumed: the wake is due")

	consumed := pendingHere
	consumed.owner, consumed.consumed = ownerElsewhere, 12
	state, _ = evaluate(rules, state, functionState{}, consumed, t0.Add(time.Second))
	_, d = evaluate(rules, state, functionState{}, pendingHere, t0.Add(2*time.Second))
	assert.Equal(t, outcomeCooldown, d.outcome, "the function consumed after the owner's wake: no second wake")
}
