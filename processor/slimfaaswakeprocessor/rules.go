package slimfaaswakeprocessor // import "github.com/kafkawake/kafkawake/processor/slimfaaswakeprocessor"

import (
	"time"

	schema "github.com/kafkawake/kafkawake/internal/metadata"
)

// bindingKey identifies a binding by the attributes of its data points.
type bindingKey struct {
	topic, group, function string
}

// observation is what one input batch says about a binding. A field is only
// meaningful when its has* flag is set: a batch may carry either metric alone.
type observation struct {
	pending     int64
	hasPending  bool
	consumed    int64
	hasConsumed bool
}

// bindingState is what the rules remember about a binding between batches.
type bindingState struct {
	// consumed is the previous consumed_messages value, the baseline of the
	// next delta; hasConsumed is false until the first observation.
	consumed    int64
	hasConsumed bool
	// lastActivity is when consumption was last seen; zero means never.
	lastActivity time.Time
	// notBefore holds the next wake back: the end of the cooldown after a
	// success or a rejection. Zero means no hold.
	notBefore time.Time
}

// noReason is the zero AttributeReason: the binding needs no wake.
const noReason schema.AttributeReason = 0

// Decision outcomes, as logged.
const (
	outcomeIdle     = "idle"
	outcomeCooldown = "cooldown"
	outcomeInFlight = "function_wake_in_flight"
	outcomeWake     = "wake"
)

// decision is the result of applying the rules to one observation.
type decision struct {
	reason        schema.AttributeReason
	consumedDelta int64
	cooldownLeft  time.Duration
	outcome       string
}

func (d decision) wake() bool { return d.outcome == outcomeWake }

// evaluate applies the wake rules to one observation of a binding at now and
// returns the binding's next state and the decision. functionInFlight tells
// whether a wake of the binding's function is already running.
func evaluate(rules WakeRules, prev bindingState, obs observation, now time.Time, functionInFlight bool) (bindingState, decision) {
	next := prev
	var d decision

	if obs.hasConsumed {
		// The first value is only a baseline, and a value going down means
		// the source restarted: re-baseline in both cases, never activity.
		if prev.hasConsumed && obs.consumed >= prev.consumed {
			d.consumedDelta = obs.consumed - prev.consumed
			if d.consumedDelta >= rules.MinConsumedDelta {
				next.lastActivity = now
			}
		}
		next.consumed = obs.consumed
		next.hasConsumed = true
	}

	pending := obs.hasPending && obs.pending >= rules.MinPendingMessages
	active := rules.ActivityKeepAlive > 0 && !next.lastActivity.IsZero() &&
		now.Sub(next.lastActivity) <= rules.ActivityKeepAlive
	switch {
	case pending && active:
		d.reason = schema.AttributeReasonPendingAndActivity
	case pending:
		d.reason = schema.AttributeReasonPending
	case active:
		d.reason = schema.AttributeReasonActivity
	}

	if left := next.notBefore.Sub(now); left > 0 {
		d.cooldownLeft = left
	}
	switch {
	case d.reason == noReason:
		d.outcome = outcomeIdle
	case d.cooldownLeft > 0:
		d.outcome = outcomeCooldown
	case functionInFlight:
		d.outcome = outcomeInFlight
	default:
		d.outcome = outcomeWake
	}
	return next, d
}
