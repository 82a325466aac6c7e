package kafkawakereceiver

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// listed builds the answer of a ListOffsets call for one topic.
func listed(topic string, offsets ...int64) kadm.ListedOffsets {
	partitions := map[int32]kadm.ListedOffset{}
	for p, o := range offsets {
		partitions[int32(p)] = kadm.ListedOffset{Topic: topic, Partition: int32(p), Offset: o}
	}
	return kadm.ListedOffsets{topic: partitions}
}

func TestNeverCommittedGroupAnswers(t *testing.T) {
	base := clusterOffsets{ends: listed("orders", 10, 20), starts: listed("orders", 0, 5)}
	want := map[int32]partitionOffsets{
		0: {highWatermark: 10, logStart: 0, committed: noCommit},
		1: {highWatermark: 20, logStart: 5, committed: noCommit},
	}
	tests := []struct {
		name    string
		commits kadm.FetchOffsetsResponse
	}{
		{"Apache Kafka: -1 offsets, no error", kadm.FetchOffsetsResponse{Group: "g", Fetched: kadm.OffsetResponses{"orders": {
			0: {Offset: kadm.Offset{Topic: "orders", Partition: 0, At: -1}},
			1: {Offset: kadm.Offset{Topic: "orders", Partition: 1, At: -1}},
		}}}},
		{"Apache Kafka: no partitions listed", kadm.FetchOffsetsResponse{Group: "g", Fetched: kadm.OffsetResponses{}}},
		{"GROUP_ID_NOT_FOUND", kadm.FetchOffsetsResponse{Group: "g", Err: kerr.GroupIDNotFound}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			c.commits = kadm.FetchOffsetsResponses{"g": tt.commits}
			got, err := c.offsetsOf("orders", "g")
			require.NoError(t, err)
			assert.NoError(t, got.commitsErr)
			assert.Equal(t, want, got.partitions)
		})
	}
}

func TestOffsetsOfNeverHidesAnError(t *testing.T) {
	ok := kadm.FetchOffsetsResponses{"g": {Group: "g"}}
	tests := []struct {
		name    string
		offsets clusterOffsets
		wantErr string
	}{
		{"partition commit error", clusterOffsets{ends: listed("t", 5), starts: listed("t", 0), commits: kadm.FetchOffsetsResponses{"g": {Group: "g",
			Fetched: kadm.OffsetResponses{"t": {0: {Err: kerr.UnstableOffsetCommit}}}}}}, `committed offset of group "g" on partition 0 of topic "t"`},
		{"no answer for the group", clusterOffsets{ends: listed("t", 5), starts: listed("t", 0), commits: kadm.FetchOffsetsResponses{}}, `no committed-offsets answer for group "g"`},
		{"end offset missing", clusterOffsets{ends: kadm.ListedOffsets{}, starts: listed("t", 0), commits: ok}, `topic "t": no end offsets returned`},
		{"log start missing for a partition", clusterOffsets{ends: listed("t", 5, 6), starts: listed("t", 0), commits: ok}, `no log start offset for partition 1 of topic "t"`},
		{"coordinator error", clusterOffsets{ends: listed("t", 5), starts: listed("t", 0), commits: kadm.FetchOffsetsResponses{"g": {Group: "g", Err: kerr.CoordinatorNotAvailable}}}, `reading committed offsets of group "g"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.offsets.offsetsOf("t", "g")
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}
