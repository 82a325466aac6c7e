package watch

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/offset"
)

var (
	ordersID = [16]byte{1}
	auditID  = [16]byte{2}
)

// idleOn is an idle binding's sight of topic, partition by partition as
// {leader, end} pairs.
func idleOn(seq uint64, topic string, id [16]byte, partitions map[int32]SightPartition) Sight {
	return Sight{Idle: true, Seq: seq, Topic: topic, TopicID: id, Partitions: partitions}
}

func target(topic string, id [16]byte, partition int32, from int64, bindings ...int) Target {
	return Target{TopicPartition: offset.TopicPartition{Topic: topic, Partition: partition}, TopicID: id, From: from, Bindings: bindings}
}

// listing is a read as a sight sees it.
type listing struct {
	leaders map[offset.TopicPartition]int32
	ids     map[string][16]byte
	ends    map[offset.TopicPartition]int64
}

func (l listing) TopicID(topic string) [16]byte { return l.ids[topic] }

func (l listing) Leader(tp offset.TopicPartition) (int32, bool) {
	leader, ok := l.leaders[tp]
	return leader, ok
}

func (l listing) End(tp offset.TopicPartition) int64 { return l.ends[tp] }

func TestSightOf(t *testing.T) {
	offsets := listing{
		leaders: map[offset.TopicPartition]int32{{Topic: "orders", Partition: 0}: 1, {Topic: "orders", Partition: 1}: 2},
		ids:     map[string][16]byte{"orders": ordersID},
		ends:    map[offset.TopicPartition]int64{{Topic: "orders", Partition: 0}: 12, {Topic: "orders", Partition: 1}: 7, {Topic: "orders", Partition: 2}: 3},
	}
	partitions := offset.PartitionsOf(map[int32]offset.Partition{
		// The residue check closed 10..12 (markers only) at 10: the watch
		// polls from the listed end, 12.
		0: {HighWatermark: 10, LogStart: 0, Committed: 10},
		1: {HighWatermark: 7, LogStart: 7, Committed: offset.NoCommit},
		2: {HighWatermark: 3, LogStart: 3, Committed: offset.NoCommit}, // no leader in the metadata
	})
	assert.Equal(t, idleOn(4, "orders", ordersID, map[int32]SightPartition{0: {1, 12}, 1: {2, 7}, 2: {-1, 3}}),
		SightOf(4, "orders", offsets, partitions, 0))
	busy := SightOf(4, "orders", offsets, partitions, 1)
	assert.False(t, busy.Idle)
}

func TestPlanWatch(t *testing.T) {
	tests := []struct {
		name   string
		sights []Sight
		off    map[string]bool
		want   Plan
	}{
		{
			name: "idle bindings are polled at each partition's leader from its end",
			sights: []Sight{
				idleOn(1, "orders", ordersID, map[int32]SightPartition{0: {1, 10}, 1: {2, 7}, 2: {1, 0}}),
			},
			want: Plan{
				1: {target("orders", ordersID, 0, 10, 0), target("orders", ordersID, 2, 0, 0)},
				2: {target("orders", ordersID, 1, 7, 0)},
			},
		},
		{
			name: "busy and unreadable bindings are not polled",
			sights: []Sight{
				{Idle: false, Seq: 1, Topic: "orders", TopicID: ordersID, Partitions: map[int32]SightPartition{0: {1, 10}}},
				{},
				idleOn(1, "audit", auditID, map[int32]SightPartition{0: {2, 3}}),
			},
			want: Plan{2: {target("audit", auditID, 0, 3, 2)}},
		},
		{
			name: "bindings sharing a topic share its polls, from the lowest end any of them saw",
			sights: []Sight{
				idleOn(1, "orders", ordersID, map[int32]SightPartition{0: {1, 10}}),
				idleOn(2, "orders", ordersID, map[int32]SightPartition{0: {1, 12}}),
			},
			want: Plan{1: {target("orders", ordersID, 0, 10, 0, 1)}},
		},
		{
			name: "the most recent sight says where a partition's leader is",
			sights: []Sight{
				idleOn(5, "orders", ordersID, map[int32]SightPartition{0: {2, 10}}),
				idleOn(3, "orders", ordersID, map[int32]SightPartition{0: {1, 10}}),
			},
			want: Plan{2: {target("orders", ordersID, 0, 10, 0, 1)}},
		},
		{
			name: "a partition without a leader waits for the next observation",
			sights: []Sight{
				idleOn(1, "orders", ordersID, map[int32]SightPartition{0: {-1, 10}, 1: {3, 4}}),
			},
			want: Plan{3: {target("orders", ordersID, 1, 4, 0)}},
		},
		{
			name: "topics the watch is off for are not polled",
			sights: []Sight{
				idleOn(1, "orders", ordersID, map[int32]SightPartition{0: {1, 10}}),
				idleOn(1, "audit", auditID, map[int32]SightPartition{0: {1, 3}}),
			},
			off:  map[string]bool{"orders": true},
			want: Plan{1: {target("audit", auditID, 0, 3, 1)}},
		},
		{
			name:   "nothing idle, nothing polled",
			sights: []Sight{{}, {}},
			want:   Plan{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, planWatch(tt.sights, tt.off))
		})
	}
}

func TestArmable(t *testing.T) {
	targets := []Target{
		target("orders", ordersID, 0, 10, 0),
		target("orders", ordersID, 1, 12, 0),
		target("orders", ordersID, 2, 5, 0),
	}
	fired := map[offset.TopicPartition]int64{
		{Topic: "orders", Partition: 0}: 10, // fired at 10 and still planned at 10: left out
		{Topic: "orders", Partition: 1}: 10, // moved on to 12 since: polled again
		{Topic: "audit", Partition: 0}:  3,  // no longer planned: forgotten
	}
	got, kept := armable(targets, fired)
	assert.Equal(t, []Target{targets[1], targets[2]}, got)
	assert.Equal(t, map[offset.TopicPartition]int64{{Topic: "orders", Partition: 0}: 10}, kept)
}

func TestPollRequest(t *testing.T) {
	req := pollRequest([]Target{
		target("audit", auditID, 0, 3, 1),
		target("orders", ordersID, 0, 10, 0),
		target("orders", ordersID, 2, 0, 0),
	}, 5*time.Second, true)
	assert.Equal(t, int32(-1), req.ReplicaID)
	assert.Equal(t, int32(5000), req.MaxWaitMillis)
	assert.Equal(t, int32(1), req.MinBytes)
	assert.Equal(t, int32(1), req.MaxBytes)
	assert.Equal(t, int8(1), req.IsolationLevel)
	assert.Equal(t, int32(-1), req.SessionEpoch)
	require.Len(t, req.Topics, 2)
	assert.Equal(t, "audit", req.Topics[0].Topic)
	assert.Equal(t, auditID, req.Topics[0].TopicID)
	require.Len(t, req.Topics[1].Partitions, 2)
	p := req.Topics[1].Partitions[1]
	assert.Equal(t, int32(2), p.Partition)
	assert.Equal(t, int64(0), p.FetchOffset)
	assert.Equal(t, int32(1), p.PartitionMaxBytes)
	assert.Equal(t, int32(-1), p.CurrentLeaderEpoch)

	assert.Equal(t, int8(0), pollRequest(nil, time.Second, false).IsolationLevel)
}

func TestReadPoll(t *testing.T) {
	targets := []Target{
		target("orders", ordersID, 0, 10, 0),
		target("orders", ordersID, 1, 10, 0),
		target("orders", ordersID, 2, 10, 0),
		target("orders", ordersID, 3, 10, 0),
		target("secret", [16]byte{3}, 0, 0, 1),
		target("audit", auditID, 0, 3, 2),
		target("audit", auditID, 1, 3, 2),
	}
	partition := func(p int32, code int16, hwm, lso int64) kmsg.FetchResponseTopicPartition {
		rp := kmsg.NewFetchResponseTopicPartition()
		rp.Partition, rp.ErrorCode, rp.HighWatermark, rp.LastStableOffset = p, code, hwm, lso
		return rp
	}
	resp := kmsg.NewPtrFetchResponse()
	orders := kmsg.NewFetchResponseTopic()
	orders.TopicID = ordersID // v13+ answers name topics by ID only
	orders.Partitions = []kmsg.FetchResponseTopicPartition{
		partition(0, 0, 11, 10), // a message, still in an open transaction
		partition(1, 0, 10, 10), // nothing new
		partition(2, kerr.NotLeaderForPartition.Code, -1, -1),
		partition(3, kerr.KafkaStorageError.Code, -1, -1),
	}
	secret := kmsg.NewFetchResponseTopic()
	secret.Topic = "secret"
	secret.Partitions = []kmsg.FetchResponseTopicPartition{partition(0, kerr.TopicAuthorizationFailed.Code, -1, -1)}
	audit := kmsg.NewFetchResponseTopic()
	audit.Topic = "audit"
	audit.Partitions = []kmsg.FetchResponseTopicPartition{partition(0, kerr.UnknownTopicID.Code, -1, -1)}
	// audit partition 1 is not answered.
	resp.Topics = []kmsg.FetchResponseTopic{orders, secret, audit}

	uncommitted := readPoll(targets, resp, false)
	assert.Equal(t, []Target{targets[0]}, uncommitted.arrived)
	assert.Equal(t, []Target{targets[2], targets[5]}, uncommitted.stale)
	assert.Equal(t, map[string]error{"secret": kerr.TopicAuthorizationFailed}, uncommitted.denied)
	require.Error(t, uncommitted.failed)
	assert.ErrorIs(t, uncommitted.failed, kerr.KafkaStorageError)
	assert.ErrorContains(t, uncommitted.failed, `topic "orders" partition 3`)

	committed := readPoll(targets, resp, true)
	assert.Empty(t, committed.arrived, "read_Committed: an open transaction is nothing to read yet")
}

func TestNotifyAbortsAParkedPollOnlyForWhatItMisses(t *testing.T) {
	parked := target("orders", ordersID, 0, 5, 0)
	tests := []struct {
		name    string
		targets []Target
		abort   bool
	}{
		{"same target", []Target{parked}, false},
		{"a target dropped", nil, false},
		{"moved on: the parked poll answers at once", []Target{target("orders", ordersID, 0, 7, 0)}, false},
		{"a new partition", []Target{parked, target("orders", ordersID, 1, 0, 0)}, true},
		{"truncated below the polled offset", []Target{target("orders", ordersID, 0, 3, 0)}, true},
		{"re-created topic", []Target{target("orders", auditID, 0, 5, 0)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			aborted := false
			bp := &brokerPoll{
				changed:      make(chan struct{}, 1),
				parked:       map[offset.TopicPartition]Target{parked.TopicPartition: parked},
				cancelParked: func() { aborted = true },
			}
			bp.notify(tt.targets)
			assert.Equal(t, tt.abort, aborted)
			assert.Len(t, bp.changed, 1, "the loop is woken in every case")
		})
	}
}

func TestNextBackoffDoublesUpToItsBound(t *testing.T) {
	var got []time.Duration
	var b time.Duration
	for range 9 {
		b = nextBackoff(b)
		got = append(got, b)
	}
	ms := time.Millisecond
	assert.Equal(t, []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms, 3200 * ms, 6400 * ms, 10 * time.Second, 10 * time.Second}, got)
}
