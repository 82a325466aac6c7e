// Package testclock is the manually advanced clock that the component tests
// inject in place of time.Now, so that cooldowns, keep-alives and activity
// timestamps are tested without waiting.
package testclock // import "github.com/kafkawake/kafkawake/internal/testclock"

import (
	"sync"
	"time"
)

// Clock stands still until the test advances it. It is safe for concurrent
// use: the code under test may read it from its own goroutines.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a clock that reads start.
func New(start time.Time) *Clock { return &Clock{now: start} }

// Now is the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
