package slimfaaswakeprocessor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	schema "github.com/kafkawake/kafkawake/internal/metadata"
)

// Two replicas see the same observations; the one that does not own the
// binding keeps the cooldown the owner starts, so when the binding moves
// within the cooldown after the function consumed, the new owner does not
// wake it again, and the wakeups summed over both count each wake once.
func TestOnlyTheOwnerWakesAndANewOwnerKeepsTheCooldown(t *testing.T) {
	a, b, observe, advance := twoReplicas(t)

	assert.Equal(t, int64(1), observe(a, true, 0), "the owner wakes")
	assert.Equal(t, int64(0), observe(b, false, 0), "the other replica does not, and exports 0")

	// The function consumes, then the binding moves to b within the
	// cooldown a started.
	advance(2 * time.Second)
	observe(a, true, 3)
	observe(b, false, 3)
	advance(2 * time.Second)
	assert.Equal(t, int64(1), observe(a, false, 3), "a former owner keeps its count")
	assert.Equal(t, int64(0), observe(b, true, 3), "the new owner keeps the cooldown the old owner started")

	// The cooldown ends: the new owner wakes, once.
	advance(6 * time.Second)
	assert.Equal(t, int64(1), observe(a, false, 3))
	assert.Equal(t, int64(1), observe(b, true, 3))
}

// When nothing was consumed since the cooldown a replica mirrored, the
// binding that moves to it is woken: its former owner may have left or died
// before the wake (a replica cannot tell), and a second wake of a starting
// function is harmless where a lost one leaves messages waiting for a whole
// cooldown.
func TestANewOwnerWakesWhenTheMirroredWakeNeverShowed(t *testing.T) {
	_, b, observe, advance := twoReplicas(t)
	assert.Equal(t, int64(0), observe(b, false, 0), "b mirrors the wake a should make")
	advance(4 * time.Second)
	assert.Equal(t, int64(1), observe(b, true, 0), "moved to b, nothing consumed: b wakes")
	assert.Equal(t, []loggedDecision{mirrored, dryRun}, decisions(b.logs))
}

// twoReplicas starts two dry-run processors with a 10 s cooldown on one
// binding, and observe feeds one of them a batch with 5 pending, consumed at
// the given count and owned or not, and returns its wakeups for pending
// messages (with or without activity).
func twoReplicas(t *testing.T) (a, b *testProcessor, observe func(*testProcessor, bool, int64) int64, advance func(time.Duration)) {
	newReplica := func() *testProcessor {
		cfg := dryRunConfig()
		cfg.Defaults.Cooldown = 10 * time.Second
		return newTestProcessor(t, cfg)
	}
	a, b = newReplica(), newReplica()
	key := bindingID{"orders", "orders-group", "processorders"}
	observe = func(tp *testProcessor, owns bool, consumed int64) int64 {
		out := tp.process(t, batch([]point{
			pendingPoint(key.topic, key.group, key.function, 5).ownedBy(owns),
			consumedPoint(key.topic, key.group, key.function, consumed).ownedBy(owns),
		}))
		var total int64
		for _, reason := range []schema.AttributeReason{schema.AttributeReasonPending, schema.AttributeReasonPendingAndActivity} {
			total += counters(t, out, 0)[wakeups(key.topic, key.group, key.function, reason)]
		}
		return total
	}
	advance = func(d time.Duration) {
		a.clock.Advance(d)
		b.clock.Advance(d)
	}
	return a, b, observe, advance
}

// Without a binding_owned point (no coordination) a binding is this
// replica's to wake.
func TestABindingWithoutOwnershipIsWoken(t *testing.T) {
	tp := newTestProcessor(t, dryRunConfig())
	tp.process(t, batch([]point{pendingPoint("t", "g", "f", 1)}))
	assert.Equal(t, []loggedDecision{dryRun}, decisions(tp.logs))
}

// Once a binding has come with an owner, a batch without one means its
// replica knows of no owner (joining its group, or fenced): nobody here
// wakes the binding, and no cooldown starts, so the owner's wake is not lost
// once the group is known again.
func TestABindingWhoseOwnerIsUnknownIsNeitherWokenNorMirrored(t *testing.T) {
	tp := newTestProcessor(t, dryRunConfig())
	idlePoint := pendingPoint("t", "g", "f", 0).ownedBy(true)
	tp.process(t, batch([]point{idlePoint}))
	tp.process(t, batch([]point{pendingPoint("t", "g", "f", 3)}))
	tp.process(t, batch([]point{pendingPoint("t", "g", "f", 3).ownedBy(true)}))
	assert.Equal(t, []loggedDecision{idle, logged(outcomeOwnerUnknown, actionNone), dryRun}, decisions(tp.logs))
}
