package slimfaaswakeprocessor // import "github.com/kafkawake/kafkawake/processor/slimfaaswakeprocessor"

import (
	"maps"
	"slices"
	"time"

	"go.uber.org/zap"
)

// overrideCheck finds the functions: overrides that name no bound function,
// most often a typo that leaves a function on the defaults. The processor
// learns the bindings from its input, so it can only tell once every
// receiver has reported its bindings: after binding_expiry from the first
// batch, the time by which a binding still in the input has shown up.
type overrideCheck struct {
	unseen   map[string]bool
	deadline time.Time
}

func newOverrideCheck(functions map[string]WakeRuleOverrides) overrideCheck {
	c := overrideCheck{unseen: make(map[string]bool, len(functions))}
	for name := range functions {
		c.unseen[name] = true
	}
	return c
}

// seen notes a function the input binds.
func (c *overrideCheck) seen(function string) {
	if len(c.unseen) > 0 {
		delete(c.unseen, function)
	}
}

// check warns once, binding_expiry after the first batch, about the
// overrides no binding named meanwhile.
func (c *overrideCheck) check(now time.Time, expiry time.Duration, logger *zap.Logger) {
	if c.unseen == nil {
		return
	}
	if c.deadline.IsZero() {
		c.deadline = now.Add(expiry)
		return
	}
	if now.Before(c.deadline) {
		return
	}
	for _, name := range slices.Sorted(maps.Keys(c.unseen)) {
		logger.Warn("functions: an override names a function that no binding has named since the input started; check the name against the receivers' bindings",
			zap.String("function", name), zap.Duration("waited", expiry))
	}
	c.unseen = nil
}
