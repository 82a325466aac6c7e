package kafkaread

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestAGroupsKindIsLearntFromItsAnswers(t *testing.T) {
	denied := errors.New("describing group \"g\" is not authorized")
	tests := []struct {
		name              string
		classic, consumer groupAnswer
		want              GroupMembers
	}{
		{"a KIP-848 group: the classic API shows it without members", groupAnswer{exists: true}, groupAnswer{exists: true, members: 3}, GroupMembers{Kind: KindConsumer, Members: 3}},
		{"a classic group: ConsumerGroupDescribe does not know it", groupAnswer{exists: true, members: 2}, groupAnswer{}, GroupMembers{Kind: KindClassic, Members: 2}},
		{"a group that does not exist yet has no member", groupAnswer{}, groupAnswer{}, GroupMembers{Kind: KindUnknown}},
		{"an empty classic group stays to be learnt", groupAnswer{exists: true}, groupAnswer{}, GroupMembers{Kind: KindUnknown}},
		{"a broker without ConsumerGroupDescribe", groupAnswer{exists: true, members: 1}, groupAnswer{err: kerr.UnsupportedVersion}, GroupMembers{Kind: KindClassic, Members: 1}},
		{"not authorized", groupAnswer{err: denied}, groupAnswer{err: denied}, GroupMembers{Err: denied}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, learn(tt.classic, tt.consumer))
		})
	}
}

func TestAKnownKindIsLearntAgainWhenItsAPIStopsAnswering(t *testing.T) {
	assert.Equal(t, GroupMembers{Kind: KindConsumer, Members: 2}, groupAnswer{exists: true, members: 2}.as(KindConsumer))
	assert.Equal(t, GroupMembers{Kind: KindUnknown}, groupAnswer{}.as(KindConsumer), "gone, or now a classic group")
	assert.Equal(t, GroupMembers{Kind: KindUnknown}, groupAnswer{exists: true}.as(KindClassic), "no members: maybe a KIP-848 group now")
	assert.Equal(t, GroupMembers{Kind: KindClassic, Members: 4}, groupAnswer{exists: true, members: 4}.as(KindClassic))
	err := errors.New("coordinator down")
	assert.Equal(t, GroupMembers{Kind: KindClassic, Err: err}, groupAnswer{err: err}.as(KindClassic), "an error keeps the kind")
}

func TestADescribeAnswer(t *testing.T) {
	broker1 := kgo.BrokerMetadata{NodeID: 1, Host: "k1", Port: 9092}
	assert.Equal(t, groupAnswer{}, answerOf("g", "DescribeGroups", broker1, kerr.GroupIDNotFound.Code, "", 0))
	assert.Equal(t, groupAnswer{}, answerOf("g", "DescribeGroups", broker1, 0, "Dead", 0))
	assert.Equal(t, groupAnswer{exists: true, members: 2}, answerOf("g", "DescribeGroups", broker1, 0, "Stable", 2))
	denied := answerOf("g", "ConsumerGroupDescribe", broker1, kerr.GroupAuthorizationFailed.Code, "", 0)
	assert.ErrorContains(t, denied.err, "grant Describe on the group")
	other := answerOf("g", "ConsumerGroupDescribe", broker1, kerr.CoordinatorLoadInProgress.Code, "", 0)
	assert.ErrorContains(t, other.err, `describing group "g" (ConsumerGroupDescribe) on coordinator broker 1 (k1:9092)`)
}
