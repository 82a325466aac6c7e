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
		inFlight  bool
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
			prev: bindingState{notBefore: now.Add(10 * time.Second)}, obs: pending(50),
			wantState: bindingState{notBefore: now.Add(10 * time.Second)},
			want:      decision{reason: schema.AttributeReasonPending, cooldownLeft: 10 * time.Second, outcome: outcomeCooldown},
		},
		{
			name: "wakes again when the cooldown has just ended",
			prev: bindingState{notBefore: now}, obs: pending(50),
			wantState: bindingState{notBefore: now},
			want:      decision{reason: schema.AttributeReasonPending, outcome: outcomeWake},
		},
		{
			name: "pending while the function is being woken waits",
			obs:  pending(50), inFlight: true, wantState: bindingState{},
			want: decision{reason: schema.AttributeReasonPending, outcome: outcomeInFlight},
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
			gotState, got := evaluate(r, tt.prev, tt.obs, now, tt.inFlight)
			assert.Equal(t, tt.wantState, gotState)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.want.outcome == outcomeWake, got.wake())
		})
	}
}
