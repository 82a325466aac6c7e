package slimfaaswakeprocessor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	schema "github.com/kafkawake/kafkawake/internal/metadata"
)

// Two replicas see the same observations; the one that does not own the
// binding keeps the cooldown the owner starts, so when the binding moves
// within the cooldown the new owner does not wake the function again, and
// the wakeups summed over both count each wake once.
func TestOnlyTheOwnerWakesAndANewOwnerKeepsTheCooldown(t *testing.T) {
	newReplica := func() *testProcessor {
		cfg := dryRunConfig()
		cfg.Defaults.Cooldown = 10 * time.Second
		return newTestProcessor(t, cfg)
	}
	a, b := newReplica(), newReplica()
	key := bindingID{"orders", "orders-group", "processorders"}
	pendingWakes := wakeups(key.topic, key.group, key.function, schema.AttributeReasonPending)
	observe := func(tp *testProcessor, owns bool) int64 {
		out := tp.process(t, batch([]point{pendingPoint(key.topic, key.group, key.function, 5).ownedBy(owns)}))
		return counters(t, out, 0)[pendingWakes]
	}
	advance := func(d time.Duration) {
		a.clock.Advance(d)
		b.clock.Advance(d)
	}

	assert.Equal(t, int64(1), observe(a, true), "the owner wakes")
	assert.Equal(t, int64(0), observe(b, false), "the other replica does not, and exports 0")

	// The binding moves to b within the cooldown a started.
	advance(4 * time.Second)
	assert.Equal(t, int64(1), observe(a, false), "a former owner keeps its count")
	assert.Equal(t, int64(0), observe(b, true), "the new owner keeps the cooldown the old owner started")

	// The cooldown ends: the new owner wakes, once.
	advance(6 * time.Second)
	assert.Equal(t, int64(1), observe(a, false))
	assert.Equal(t, int64(1), observe(b, true))

	assert.Equal(t, []loggedDecision{dryRun, cooldown, mirrored}, decisions(a.logs))
	assert.Equal(t, []loggedDecision{mirrored, cooldown, dryRun}, decisions(b.logs))
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
