// Package scaling computes the scaling signals a trigger reads as they are:
// the replicas a binding's backlog needs and the time it takes to drain.
// Pure functions of the binding's figures.
package scaling // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/scaling"

import (
	"math"

	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/rates"
)

// Cap says what bounds the desired replicas of a consumer group.
type Cap string

const (
	// CapPartitions: a consumer group cannot use more members than its
	// topic has partitions.
	CapPartitions Cap = "partitions"
	// CapPartitionsPending: no more members than partitions with work.
	CapPartitionsPending Cap = "partitions_pending"
	// CapNone leaves the count uncapped.
	CapNone Cap = "none"
)

// Policy is how a binding's desired replicas are computed.
type Policy struct {
	// TargetPerReplica is the pending messages one replica should have.
	TargetPerReplica int64
	Cap              Cap
	// MaxReplicas bounds the result when above 0.
	MaxReplicas int64
}

// Backlog is what the desired replicas are computed from.
type Backlog struct {
	Pending           int64
	Partitions        int
	PartitionsPending int
	// Queue is set for a share group, whose members share partitions:
	// it is never capped by them.
	Queue bool
}

// DesiredReplicas is ⌈pending / target⌉, capped by the policy's cap (for a
// consumer group) and then by MaxReplicas; 0 when nothing is pending.
func DesiredReplicas(b Backlog, p Policy) int64 {
	if b.Pending <= 0 || p.TargetPerReplica <= 0 {
		return 0
	}
	n := (b.Pending + p.TargetPerReplica - 1) / p.TargetPerReplica
	if !b.Queue {
		switch p.Cap {
		case CapPartitions:
			n = min(n, int64(b.Partitions))
		case CapPartitionsPending:
			n = min(n, int64(b.PartitionsPending))
		}
	}
	if p.MaxReplicas > 0 {
		n = min(n, p.MaxReplicas)
	}
	return n
}

// DrainTime is the seconds until pending reaches 0 at the rates of change:
// pending / (consume rate − produce rate). It is 0 when nothing is pending
// and +Inf when consumption does not outpace production (a sleeping
// function included); known is false when something is pending and no rate
// is known yet (ok false: fewer than two observations).
func DrainTime(pending int64, change rates.Change, ok bool) (seconds float64, known bool) {
	if pending <= 0 {
		return 0, true
	}
	if !ok {
		return 0, false
	}
	net := change.ConsumeRate() - change.ProduceRate()
	if net <= 0 {
		return math.Inf(1), true
	}
	return float64(pending) / net, true
}
