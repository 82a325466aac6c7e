package kafkaread

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/offset"
)

// Fetcher sends a Fetch request to one broker: Fetch must reach each
// partition's leader, so it cannot be sharded by the client. The residue
// check and the pending age read through it, so they can be tested without
// Kafka.
type Fetcher interface {
	Fetch(ctx context.Context, broker int32, req *kmsg.FetchRequest) (*kmsg.FetchResponse, error)
}

// ClientFetcher fetches with a franz-go client.
type ClientFetcher struct{ Client *kgo.Client }

// Fetch sends req to broker.
func (f ClientFetcher) Fetch(ctx context.Context, broker int32, req *kmsg.FetchRequest) (*kmsg.FetchResponse, error) {
	return req.RequestWith(ctx, f.Client.Broker(int(broker)))
}

// FetchShape is what a consumer-less Fetch asks of the broker besides its
// partitions.
type FetchShape struct {
	ReadCommitted bool
	MaxBytes      int32
	// MaxWait and MinBytes make a long poll: the broker answers once
	// MinBytes arrived or MaxWait passed. Zero answers at once.
	MaxWait  time.Duration
	MinBytes int32
}

// NewFetchRequest is a consumer-less Fetch: no replica, no group, and no
// fetch session, so that every request is complete in itself.
func NewFetchRequest(shape FetchShape) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = int32(shape.MaxWait.Milliseconds())
	req.MinBytes = shape.MinBytes
	req.MaxBytes = shape.MaxBytes
	req.IsolationLevel = IsolationCode(shape.ReadCommitted)
	req.SessionID = 0
	req.SessionEpoch = -1
	return req
}

// AddPartition asks req for partition of topic from fetchOffset. A
// partition of the topic added just before shares its topic entry.
func AddPartition(req *kmsg.FetchRequest, topic string, topicID [16]byte, partition int32, fetchOffset int64, partitionMaxBytes int32) {
	if n := len(req.Topics); n == 0 || req.Topics[n-1].Topic != topic || req.Topics[n-1].TopicID != topicID {
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = topic
		rt.TopicID = topicID
		req.Topics = append(req.Topics, rt)
	}
	part := kmsg.NewFetchRequestTopicPartition()
	part.Partition = partition
	part.FetchOffset = fetchOffset
	part.PartitionMaxBytes = partitionMaxBytes
	rt := &req.Topics[len(req.Topics)-1]
	rt.Partitions = append(rt.Partitions, part)
}

// FetchedTopic names a Fetch response topic: v13 and later answer by topic
// ID only.
func FetchedTopic(t *kmsg.FetchResponseTopic, names map[[16]byte]string) string {
	if t.Topic != "" {
		return t.Topic
	}
	return names[t.TopicID]
}

// FetchedTopic names a Fetch response topic from the layout's topic IDs.
func (l Layout) FetchedTopic(t *kmsg.FetchResponseTopic) string {
	return FetchedTopic(t, l.names)
}

// FetchRequests gathers partition reads into one Fetch request per leader
// broker.
type FetchRequests struct {
	layout   Layout
	shape    FetchShape
	ByLeader map[int32]*kmsg.FetchRequest
}

// NewFetchRequests gathers reads of the layout's partitions.
func NewFetchRequests(layout Layout, shape FetchShape) *FetchRequests {
	return &FetchRequests{layout: layout, shape: shape, ByLeader: map[int32]*kmsg.FetchRequest{}}
}

// Add asks for partition of topic from fetchOffset; it reports false when
// the partition has no known leader.
func (f *FetchRequests) Add(tp offset.TopicPartition, fetchOffset int64, partitionMaxBytes int32) bool {
	leader, ok := f.layout.Leader(tp)
	if !ok {
		return false
	}
	req := f.ByLeader[leader]
	if req == nil {
		req = NewFetchRequest(f.shape)
		f.ByLeader[leader] = req
	}
	AddPartition(req, tp.Topic, f.layout.ids[tp.Topic], tp.Partition, fetchOffset, partitionMaxBytes)
	return true
}
