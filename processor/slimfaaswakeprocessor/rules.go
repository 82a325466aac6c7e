package slimfaaswakeprocessor // import "github.com/kafkawake/kafkawake/processor/slimfaaswakeprocessor"

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/configretry"

	schema "github.com/kafkawake/kafkawake/internal/metadata"
)

// observation is what one input batch says about a binding. A field is only
// meaningful when its has* flag is set: a batch may carry either metric alone.
type observation struct {
	pending     int64
	hasPending  bool
	consumed    int64
	hasConsumed bool
	// owner is what the batch's binding_owned point says.
	owner owner
}

// owner is who wakes a binding, as the receiver's binding_owned point says.
type owner int

const (
	// ownerUnsaid: no point. Without coordination this replica wakes every
	// binding; with it, a replica that knows of no owner (joining, fenced)
	// says nothing, and nobody here wakes the binding.
	ownerUnsaid owner = iota
	// ownerHere: binding_owned 1, this replica wakes the binding.
	ownerHere
	// ownerElsewhere: binding_owned 0, another replica wakes it.
	ownerElsewhere
)

// bindingState is what the rules remember about a binding between batches.
type bindingState struct {
	// consumed is the previous consumed_messages value, the baseline of the
	// next delta; hasConsumed is false until the first observation.
	consumed    int64
	hasConsumed bool
	// lastActivity is when consumption was last seen; zero means never.
	lastActivity time.Time
	// cooldownEnd is when the binding may be woken again after a success.
	// Zero means never woken.
	cooldownEnd time.Time
	// mirroredAt is set when the cooldown mirrors another replica's wake
	// (started at that time) rather than this replica's own success.
	mirroredAt time.Time
	// coordinated is set once a batch said who owns the binding: from then
	// on a batch that says nothing means the owner is unknown.
	coordinated bool
}

// functionState is what the rules remember about a function, shared by all
// its bindings, since they all call the same URL.
type functionState struct {
	// inFlight is set while a wake call of the function runs.
	inFlight bool
	// heldUntil is the end of a hold asked by SlimFaas (Retry-After) or
	// earned by a rejection (4xx): no binding of the function calls it before.
	heldUntil time.Time
}

// idle reports whether the state holds nothing worth remembering at now.
func (f functionState) idle(now time.Time) bool {
	return !f.inFlight && !f.heldUntil.After(now)
}

// noReason is the zero AttributeReason: the binding needs no wake.
const noReason schema.AttributeReason = 0

// outcome is what a decision concluded for one observation.
type outcome int

const (
	// outcomeIdle: neither pending nor active.
	outcomeIdle outcome = iota
	// outcomeCooldown: the binding was woken less than a cooldown ago.
	outcomeCooldown
	// outcomeFunctionHeld: SlimFaas asked to wait, or rejected the function.
	outcomeFunctionHeld
	// outcomeInFlight: a wake of the function is already running.
	outcomeInFlight
	// outcomeOwnerUnknown: the binding is due, but the receiver's replica
	// knows of no owner (it is joining its group, or fenced): neither a
	// wake nor a mirrored one.
	outcomeOwnerUnknown
	// outcomeWake: the function is to be woken now, by this replica or,
	// when another one owns the binding, mirrored.
	outcomeWake
)

var outcomeNames = [...]string{
	outcomeIdle:         "idle",
	outcomeCooldown:     "cooldown",
	outcomeFunctionHeld: "function_held",
	outcomeInFlight:     "function_wake_in_flight",
	outcomeOwnerUnknown: "owner_unknown",
	outcomeWake:         "wake",
}

func (o outcome) String() string { return outcomeNames[o] }

// decision is the result of applying the rules to one observation.
type decision struct {
	reason        schema.AttributeReason
	consumedDelta int64
	cooldownLeft  time.Duration
	holdLeft      time.Duration
	outcome       outcome
}

// evaluate applies the wake rules to one observation of a binding at now and
// returns the binding's next state and the decision. function is the state
// of the binding's function.
func evaluate(rules WakeRules, prev bindingState, function functionState, obs observation, now time.Time) (bindingState, decision) {
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

	if obs.owner != ownerUnsaid {
		next.coordinated = true
	}

	pending := obs.hasPending && obs.pending >= rules.MinPendingMessages
	if obs.owner == ownerHere && !next.mirroredAt.IsZero() && pending && next.lastActivity.Before(next.mirroredAt) {
		// The binding moved here during a cooldown mirrored for its former
		// owner, and nothing was consumed since (consumption seen with the
		// mirror counts: the owner woke on that same observation): no sign
		// that the wake happened, and the owner may have left or died
		// before it. A
		// duplicate wake of a starting function is harmless; a lost one
		// leaves messages waiting for a whole cooldown.
		next.cooldownEnd, next.mirroredAt = time.Time{}, time.Time{}
	}
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

	d.cooldownLeft = max(0, next.cooldownEnd.Sub(now))
	d.holdLeft = max(0, function.heldUntil.Sub(now))
	switch {
	case d.reason == noReason:
		d.outcome = outcomeIdle
	case d.cooldownLeft > 0:
		d.outcome = outcomeCooldown
	case d.holdLeft > 0:
		d.outcome = outcomeFunctionHeld
	case function.inFlight:
		d.outcome = outcomeInFlight
	case next.coordinated && obs.owner == ownerUnsaid:
		d.outcome = outcomeOwnerUnknown
	default:
		d.outcome = outcomeWake
	}
	return next, d
}

// attemptKind classifies the result of one wake attempt.
type attemptKind int

const (
	// attemptSucceeded: SlimFaas answered 2xx.
	attemptSucceeded attemptKind = iota
	// attemptDryRun: no call was made; it counts as a 2xx.
	attemptDryRun
	// attemptRejected: a 4xx other than 429; asking again soon would not help.
	attemptRejected
	// attemptThrottled: 429 or 503; SlimFaas may say when to come back.
	attemptThrottled
	// attemptFailed: any other status, a timeout or a connection error.
	attemptFailed
	// attemptMirrored: another replica owns the binding and makes this
	// call; this one starts the cooldown the owner's success starts, so that
	// if the binding moves here it is not woken again within it. Nothing is
	// called and nothing is counted.
	attemptMirrored
)

type attemptResult struct {
	kind   attemptKind
	status int
	// retryAfter is the delay SlimFaas asked for with a 429 or 503, or 0.
	retryAfter time.Duration
	err        error
}

// attemptCounts is what one attempt adds to a binding's counters.
type attemptCounts struct {
	wakeups, failures int64
}

// afterAttempt is the one transition of binding and function state on a
// wake attempt of the binding at now. A success (or a dry run) counts a
// wakeup and starts the binding's cooldown, and nothing else does. A
// rejection holds the function for the cooldown, a Retry-After holds it that
// long: a hold only ever grows, and stops every binding of the function.
// Every other result is a failure that leaves the next try to the retries or
// the next observation.
func afterAttempt(rules WakeRules, state bindingState, heldUntil time.Time, res attemptResult, now time.Time) (bindingState, time.Time, attemptCounts) {
	hold := func(d time.Duration) time.Time {
		if until := now.Add(d); d > 0 && until.After(heldUntil) {
			return until
		}
		return heldUntil
	}
	switch res.kind {
	case attemptSucceeded, attemptDryRun:
		state.cooldownEnd, state.mirroredAt = now.Add(rules.Cooldown), time.Time{}
		return state, heldUntil, attemptCounts{wakeups: 1}
	case attemptMirrored:
		state.cooldownEnd, state.mirroredAt = now.Add(rules.Cooldown), now
		return state, heldUntil, attemptCounts{}
	case attemptRejected:
		heldUntil = hold(rules.Cooldown)
	case attemptThrottled:
		heldUntil = hold(res.retryAfter)
	}
	return state, heldUntil, attemptCounts{failures: 1}
}

// maxRetryAfter caps the delay SlimFaas may ask for: a broken or hostile
// Retry-After must not silence a function for years.
const maxRetryAfter = 5 * time.Minute

// classifyAnswer turns SlimFaas's answer to a wake call into an attempt
// result: 2xx succeeded; 429 and 503 throttled, after the Retry-After it
// asks for; another 4xx, or a redirect that would turn the POST into a GET,
// rejected; anything else failed. now turns a Retry-After date into a
// delay.
func classifyAnswer(code int, status, retryAfter, location string, now time.Time) attemptResult {
	res := attemptResult{status: code}
	switch {
	case code >= 200 && code < 300:
		res.kind = attemptSucceeded
		return res
	case code >= 300 && code < 400:
		res.kind = attemptRejected
		res.err = fmt.Errorf("SlimFaas's address answered %s with Location %q: a wake is a POST, sent on only through a 307 or 308 redirect; set endpoint to the address it redirects to (perhaps https)", status, location)
		return res
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		res.kind = attemptThrottled
		res.retryAfter = parseRetryAfter(retryAfter, now)
	case code >= 400 && code < 500:
		res.kind = attemptRejected
	default:
		res.kind = attemptFailed
	}
	res.err = fmt.Errorf("SlimFaas answered %s", status)
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

// retryWindow is how long after the first attempt a wake call may be
// retried: the cooldown, or retry_on_failure.max_elapsed_time when shorter.
func retryWindow(retry configretry.BackOffConfig, rules WakeRules) time.Duration {
	if !retry.Enabled {
		return 0
	}
	if limit := retry.MaxElapsedTime; limit > 0 && limit < rules.Cooldown {
		return limit
	}
	return rules.Cooldown
}

// nextRetry says whether and when a failed attempt is retried: after the
// Retry-After SlimFaas asked for, or else after the next backoff delay, as
// long as the retry starts before deadline.
func nextRetry(enabled bool, res attemptResult, nextBackOff func() time.Duration, now, deadline time.Time) (time.Duration, bool) {
	if !enabled || (res.kind != attemptThrottled && res.kind != attemptFailed) {
		return 0, false
	}
	delay := res.retryAfter
	if delay == 0 {
		delay = nextBackOff()
	}
	return delay, !now.Add(delay).After(deadline)
}
