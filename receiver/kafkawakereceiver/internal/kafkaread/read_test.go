package kafkaread

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/offset"
)

// readTopic builds a scrape that read every partition of one topic, with the
// given end and start offsets, and the given groups' answers.
func readTopic(topic string, ends, starts []int64, groups map[string]groupOffsets) Snapshot {
	c := Snapshot{
		Layout:    Layout{partitions: map[string][]int32{}},
		topicErrs: map[string]error{},
		listed:    map[string]*listedTopic{},
		groups:    groups,
	}
	for p := range ends {
		c.Layout.partitions[topic] = append(c.Layout.partitions[topic], int32(p))
	}
	lt := newListedTopic(c.Layout.partitions[topic])
	copy(lt.ends, ends)
	copy(lt.starts, starts)
	c.listed[topic] = lt
	return c
}

func offsetFetchGroup(group string, code int16, partitions ...kmsg.OffsetFetchResponseGroupTopicPartition) kmsg.OffsetFetchResponseGroup {
	g := kmsg.NewOffsetFetchResponseGroup()
	g.Group = group
	g.ErrorCode = code
	if len(partitions) > 0 {
		t := kmsg.NewOffsetFetchResponseGroupTopic()
		t.Topic = "orders"
		t.Partitions = partitions
		g.Topics = []kmsg.OffsetFetchResponseGroupTopic{t}
	}
	return g
}

func fetchedPartition(p int32, offset int64, code int16) kmsg.OffsetFetchResponseGroupTopicPartition {
	fp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
	fp.Partition = p
	fp.Offset = offset
	fp.ErrorCode = code
	return fp
}

func TestNeverCommittedGroupAnswers(t *testing.T) {
	want := map[int32]offset.Partition{
		0: {HighWatermark: 10, LogStart: 0, Committed: offset.NoCommit},
		1: {HighWatermark: 20, LogStart: 5, Committed: offset.NoCommit},
	}
	tests := []struct {
		name   string
		answer kmsg.OffsetFetchResponseGroup
	}{
		{"Apache Kafka: -1 offsets, no error", offsetFetchGroup("g", 0, fetchedPartition(0, -1, 0), fetchedPartition(1, -1, 0))},
		{"Apache Kafka: no partitions listed", offsetFetchGroup("g", 0)},
		{"GROUP_ID_NOT_FOUND", offsetFetchGroup("g", kerr.GroupIDNotFound.Code)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := readTopic("orders", []int64{10, 20}, []int64{0, 5}, map[string]groupOffsets{"g": groupOffsetsOf(tt.answer, "broker 1 (k1:9092)")})
			got, err := c.Binding("orders", "g")
			require.NoError(t, err)
			assert.NoError(t, got.CommitsErr)
			assert.Equal(t, offset.PartitionsOf(want), got.Partitions)
		})
	}
}

func TestOffsetsOfNeverHidesAnError(t *testing.T) {
	const coordinator = "broker 2 (k2:9092)"
	committed := map[string]groupOffsets{"g": {}}
	tests := []struct {
		name    string
		offsets Snapshot
		wantErr string
	}{
		{"partition commit error", readTopic("orders", []int64{5}, []int64{0}, map[string]groupOffsets{
			"g": groupOffsetsOf(offsetFetchGroup("g", 0, fetchedPartition(0, 3, kerr.UnstableOffsetCommit.Code)), coordinator),
		}), `committed offset of group "g" on partition 0 of topic "orders" (coordinator broker 2 (k2:9092))`},
		{"no answer for the group", readTopic("orders", []int64{5}, []int64{0}, map[string]groupOffsets{}), `no committed-offsets answer for group "g"`},
		{"coordinator error", readTopic("orders", []int64{5}, []int64{0}, map[string]groupOffsets{
			"g": groupOffsetsOf(offsetFetchGroup("g", kerr.CoordinatorNotAvailable.Code), coordinator),
		}), `reading committed offsets of group "g" from coordinator broker 2 (k2:9092)`},
		{"one partition of three not read", func() Snapshot {
			c := readTopic("orders", []int64{10, 10, 10}, []int64{0, 0, 0}, committed)
			c.listed["orders"].fail(2, errors.New("listing the end offset on broker 3 (k3:9092): context deadline exceeded"))
			return c
		}(), "listing the end offset on broker 3 (k3:9092)"},
		{"two partitions of three not read", func() Snapshot {
			c := readTopic("orders", []int64{10, 10, 10}, []int64{0, 0, 0}, committed)
			c.listed["orders"].fail(0, errors.New("partition 0 has no leader"))
			c.listed["orders"].fail(1, errors.New("partition 1 has no leader"))
			return c
		}(), "partition 0 has no leader (and 1 more of the topic's partitions could not be read)"},
		{"no partitions", readTopic("orders", nil, nil, committed), `topic "orders": no partitions in the metadata`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.offsets.Binding("orders", "g")
			assert.ErrorContains(t, err, tt.wantErr)
			assert.Zero(t, got.Partitions, "no partial result next to an error")
		})
	}
}

func TestLayoutOfMetadata(t *testing.T) {
	resp := kmsg.NewPtrMetadataResponse()
	topic := func(name string, code int16, partitions ...kmsg.MetadataResponseTopicPartition) {
		rt := kmsg.NewMetadataResponseTopic()
		rt.Topic = kmsg.StringPtr(name)
		rt.ErrorCode = code
		rt.Partitions = partitions
		resp.Topics = append(resp.Topics, rt)
	}
	partition := func(p, leader int32, code int16) kmsg.MetadataResponseTopicPartition {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition, mp.Leader, mp.ErrorCode = p, leader, code
		return mp
	}
	topic("orders", 0,
		partition(2, 3, 0),
		partition(0, 1, kerr.ReplicaNotAvailable.Code), // a follower is down; the leader answers
		partition(1, 0, kerr.LeaderNotAvailable.Code),
		partition(3, -1, 0),
	)
	topic("missing", kerr.UnknownTopicOrPartition.Code)

	l := layoutOf(resp)
	assert.Equal(t, []int32{0, 1, 2, 3}, l.partitions["orders"])
	leaders := map[offset.TopicPartition]int32{}
	for _, p := range l.partitions["orders"] {
		tp := offset.TopicPartition{Topic: "orders", Partition: p}
		if leader, ok := l.Leader(tp); ok {
			leaders[tp] = leader
		}
	}
	assert.Equal(t, map[offset.TopicPartition]int32{{Topic: "orders", Partition: 0}: 1, {Topic: "orders", Partition: 2}: 3}, leaders)
	assert.ErrorContains(t, l.leaderless[offset.TopicPartition{Topic: "orders", Partition: 1}], `partition 1 of topic "orders" has no usable leader`)
	assert.ErrorIs(t, l.leaderless[offset.TopicPartition{Topic: "orders", Partition: 1}], kerr.LeaderNotAvailable)
	assert.ErrorContains(t, l.leaderless[offset.TopicPartition{Topic: "orders", Partition: 3}], `partition 3 of topic "orders" has no leader`)
	assert.Len(t, l.leaderless, 2)
	assert.ErrorContains(t, l.topicErrs["missing"], `topic "missing" does not exist`)
}

// Brokers before Kafka 4.2 answer DescribeShareGroupOffsets v0, without
// the lag: an error that says which version is needed, never a count.
func TestShareOffsetsWithoutLagAreAnError(t *testing.T) {
	g := kmsg.NewDescribeShareGroupOffsetsResponseGroup()
	g.GroupID = "queue"
	got := shareOffsetsOf(g, 0, "broker 1 (k:9092)")
	require.Error(t, got.err)
	assert.ErrorContains(t, got.err, "Kafka 4.2 or later")
	assert.NoError(t, shareOffsetsOf(g, 1, "broker 1 (k:9092)").err)
}

func TestListedTopicFindsPartitionsByNumber(t *testing.T) {
	dense := newListedTopic([]int32{0, 1, 2})
	i, ok := dense.index(2)
	assert.True(t, ok)
	assert.Equal(t, 2, i)
	_, ok = dense.index(3)
	assert.False(t, ok)
	_, ok = dense.index(-1)
	assert.False(t, ok)

	// A layout missing a partition (a metadata answer that skipped one):
	// positions and numbers differ.
	sparse := newListedTopic([]int32{0, 2, 5})
	i, ok = sparse.index(5)
	assert.True(t, ok)
	assert.Equal(t, 2, i)
	_, ok = sparse.index(1)
	assert.False(t, ok)
}

func TestCommitsOfPartitionsTheAnswerSkipped(t *testing.T) {
	// The answer lists partitions 0 and 2 only: partition 1 has no commit,
	// and a partition beyond the answer has none either.
	g := groupOffsetsOf(offsetFetchGroup("g", 0, fetchedPartition(2, 7, 0), fetchedPartition(0, 3, 0)), "broker 1 (k1:9092)")
	c := readTopic("orders", []int64{10, 10, 10, 10}, []int64{0, 0, 0, 0}, map[string]groupOffsets{"g": g})
	got, err := c.Binding("orders", "g")
	require.NoError(t, err)
	assert.Equal(t, offset.PartitionsOf(map[int32]offset.Partition{
		0: {HighWatermark: 10, Committed: 3},
		1: {HighWatermark: 10, Committed: offset.NoCommit},
		2: {HighWatermark: 10, Committed: 7},
		3: {HighWatermark: 10, Committed: offset.NoCommit},
	}), got.Partitions)
	assert.Equal(t, int64(10), c.End(offset.TopicPartition{Topic: "orders", Partition: 3}))
}

func TestAPartitionsCommitErrorFailsOnlyItsTopic(t *testing.T) {
	// The group answers for two topics; one partition of "orders" is an
	// error, "refunds" is whole.
	answer := offsetFetchGroup("g", 0, fetchedPartition(0, 3, 0), fetchedPartition(1, -1, kerr.UnstableOffsetCommit.Code))
	refunds := kmsg.NewOffsetFetchResponseGroupTopic()
	refunds.Topic = "refunds"
	refunds.Partitions = []kmsg.OffsetFetchResponseGroupTopicPartition{fetchedPartition(0, 4, 0), fetchedPartition(1, 2, 0)}
	answer.Topics = append(answer.Topics, refunds)
	groups := map[string]groupOffsets{"g": groupOffsetsOf(answer, "broker 1 (k1:9092)")}
	c := readTopic("orders", []int64{10, 10}, []int64{0, 0}, groups)
	c.listed["refunds"] = readTopic("refunds", []int64{6, 6}, []int64{0, 0}, groups).listed["refunds"]

	_, err := c.Binding("orders", "g")
	assert.ErrorContains(t, err, `committed offset of group "g" on partition 1 of topic "orders"`)
	assert.ErrorIs(t, err, kerr.UnstableOffsetCommit)
	got, err := c.Binding("refunds", "g")
	require.NoError(t, err)
	assert.Equal(t, offset.PartitionsOf(map[int32]offset.Partition{
		0: {HighWatermark: 6, Committed: 4},
		1: {HighWatermark: 6, Committed: 2},
	}), got.Partitions)
}
