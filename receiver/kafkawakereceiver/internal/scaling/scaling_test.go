package scaling

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/rates"
)

func TestDesiredReplicas(t *testing.T) {
	per100 := Policy{TargetPerReplica: 100, Cap: CapPartitions}
	tests := []struct {
		name    string
		backlog Backlog
		policy  Policy
		want    int64
	}{
		{"nothing pending", Backlog{Pending: 0, Partitions: 12}, per100, 0},
		{"rounds up", Backlog{Pending: 101, Partitions: 12}, per100, 2},
		{"exact", Backlog{Pending: 300, Partitions: 12}, per100, 3},
		{"one message wakes one replica", Backlog{Pending: 1, Partitions: 12}, per100, 1},
		{"capped at the partitions", Backlog{Pending: 5000, Partitions: 12}, per100, 12},
		{"capped at the partitions with work", Backlog{Pending: 5000, Partitions: 12, PartitionsPending: 3}, Policy{TargetPerReplica: 100, Cap: CapPartitionsPending}, 3},
		{"not capped", Backlog{Pending: 5000, Partitions: 12}, Policy{TargetPerReplica: 100, Cap: CapNone}, 50},
		{"a share group is never capped by partitions", Backlog{Pending: 5000, Partitions: 1, PartitionsPending: 1, Queue: true}, per100, 50},
		{"max_replicas bounds every kind", Backlog{Pending: 5000, Partitions: 1, Queue: true}, Policy{TargetPerReplica: 100, MaxReplicas: 8}, 8},
		{"max_replicas after the cap", Backlog{Pending: 5000, Partitions: 12}, Policy{TargetPerReplica: 100, Cap: CapPartitions, MaxReplicas: 20}, 12},
		{"huge backlogs do not overflow", Backlog{Pending: math.MaxInt64, Partitions: 12}, Policy{TargetPerReplica: 1, Cap: CapNone}, math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, DesiredReplicas(tt.backlog, tt.policy))
		})
	}
}

func TestDrainTime(t *testing.T) {
	minute := func(produced, consumed int64) rates.Change {
		return rates.Change{Produced: produced, Consumed: consumed, Span: time.Minute}
	}
	tests := []struct {
		name      string
		pending   int64
		change    rates.Change
		ok        bool
		want      float64
		wantKnown bool
	}{
		{"nothing pending is 0, rates or not", 0, rates.Change{}, false, 0, true},
		{"consumption outpaces production", 600, minute(60, 180), true, 300, true}, // 2 msg/s net
		{"consumption equals production", 600, minute(120, 120), true, math.Inf(1), true},
		{"a sleeping function", 600, minute(60, 0), true, math.Inf(1), true},
		{"nothing moves", 600, minute(0, 0), true, math.Inf(1), true},
		{"no rate yet", 600, rates.Change{}, false, 0, false},
		{"a drained backlog with producing still going on", 10, minute(600, 1200), true, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, known := DrainTime(tt.pending, tt.change, tt.ok)
			assert.Equal(t, tt.wantKnown, known)
			if math.IsInf(tt.want, 1) {
				assert.True(t, math.IsInf(got, 1), "got %v", got)
				return
			}
			assert.InDelta(t, tt.want, got, 1e-9)
		})
	}
}
