// Package health tells how a binding is doing: its status, the messages
// retention deleted before its group read them, and the partitions its
// consumer is stuck on. Pure rules of the binding's figures and an
// injected time.
package health // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/health"

import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/rates"

// Status is a binding's status in one observation.
type Status int

// The statuses, in the order in which the first that applies wins.
const (
	// Error: the binding could not be read.
	Error Status = iota
	// Stalled: a partition has work and members, but its commit has not
	// moved for stall_after.
	Stalled
	// Waiting: work is pending and nothing consumes it: the function is
	// asleep, and the wake is due.
	Waiting
	// FallingBehind: work is pending, members consume, but no faster than
	// messages arrive.
	FallingBehind
	// Draining: work is pending and the group consumes faster than
	// messages arrive.
	Draining
	// Idle: nothing is pending.
	Idle
)

// Statuses lists every status, in order.
var Statuses = []Status{Error, Stalled, Waiting, FallingBehind, Draining, Idle}

func (s Status) String() string {
	switch s {
	case Error:
		return "error"
	case Stalled:
		return "stalled"
	case Waiting:
		return "waiting"
	case FallingBehind:
		return "falling_behind"
	case Draining:
		return "draining"
	default:
		return "idle"
	}
}

// Figures are what a status is decided from.
type Figures struct {
	// Read is false when the binding could not be read.
	Read    bool
	Pending int64
	// StalledPartitions counts the partitions stalled.
	StalledPartitions int
	// Members of the group, when MembersKnown (the group could be
	// described).
	Members      int
	MembersKnown bool
	// Window is what the binding produced and consumed over the rate
	// window; WindowKnown is false before it holds two observations.
	Window      rates.Change
	WindowKnown bool
}

// StatusOf is the first status that applies. Without the group's members,
// a backlog nothing consumed over the window is waiting; before the window
// holds two observations, nothing is known to drain, so a consumed backlog
// is falling behind until the window shows otherwise.
func StatusOf(f Figures) Status {
	consumedMore := f.WindowKnown && f.Window.Consumed > f.Window.Produced
	consumedAny := f.WindowKnown && f.Window.Consumed > 0
	switch {
	case !f.Read:
		return Error
	case f.StalledPartitions > 0:
		return Stalled
	case f.Pending <= 0:
		return Idle
	case f.MembersKnown && f.Members == 0, !f.MembersKnown && !consumedAny:
		return Waiting
	case consumedMore:
		return Draining
	default:
		return FallingBehind
	}
}
