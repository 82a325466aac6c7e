package coordination // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/coordination"

import (
	"errors"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// share is what this member was assigned, and when the coordinator last
// confirmed that it is still a member of that generation.
type share struct {
	generation int32
	indexes    []int // indexes into the member's configured bindings, sorted
	// confirmedAt is when the last request the coordinator answered as a
	// member was sent: the coordinator's session clock started after it.
	confirmedAt time.Time
}

// fenceAfter is how long after its last confirmation a member keeps its
// share. It is shorter than the session timeout, so a member cut off from
// the coordinator stops observing before the coordinator can give its
// bindings to another member; the fifth left over covers the scrape in
// flight.
func fenceAfter(sessionTimeout time.Duration) time.Duration {
	return sessionTimeout - sessionTimeout/5
}

// ownedAt returns the share's bindings, or nil once the share is no longer
// confirmed recently enough to be safe.
func (s share) ownedAt(now time.Time, sessionTimeout time.Duration) []int {
	if s.indexes == nil || now.Sub(s.confirmedAt) >= fenceAfter(sessionTimeout) {
		return nil
	}
	return s.indexes
}

// moved lists the bindings that entered and left between two shares.
func moved(before, after []int) (in, out []int) {
	for _, i := range after {
		if _, found := slices.BinarySearch(before, i); !found {
			in = append(in, i)
		}
	}
	for _, i := range before {
		if _, found := slices.BinarySearch(after, i); !found {
			out = append(out, i)
		}
	}
	return in, out
}

// reaction is what a member does after a group request's answer.
type reaction int

const (
	// confirmed: the coordinator counts this member in its generation.
	confirmed reaction = iota
	// retryLater: the coordinator could not be asked or answered with a
	// transient error; the share stays until it is fenced.
	retryLater
	// rejoin: a rebalance started; the share stays until the new one.
	rejoin
	// rejoinWithoutShare: this member is out of the current generation,
	// another member may already own its bindings.
	rejoinWithoutShare
	// rejoinAsNewMember: the coordinator forgot this member id.
	rejoinAsNewMember
)

func reactTo(err error) reaction {
	switch {
	case err == nil:
		return confirmed
	case errors.Is(err, kerr.RebalanceInProgress):
		return rejoin
	case errors.Is(err, kerr.IllegalGeneration), errors.Is(err, kerr.FencedInstanceID):
		return rejoinWithoutShare
	case errors.Is(err, kerr.UnknownMemberID):
		return rejoinAsNewMember
	default:
		return retryLater
	}
}
