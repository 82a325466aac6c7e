// Package ctxsleep waits for a duration or for a context, whichever ends
// first: the one context-aware sleep of the repository.
package ctxsleep // import "github.com/kafkawake/kafkawake/internal/ctxsleep"

import (
	"context"
	"time"
)

// Sleep waits d, or until ctx is done; it returns ctx's error in that case.
func Sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
