package kafkawakereceiver // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver"

import "github.com/twmb/franz-go/pkg/kmsg"

// fetchRequests gathers partition reads into one Fetch request per leader
// broker; Fetch must reach each partition's leader, so kgo cannot shard it.
type fetchRequests struct {
	layout     topicLayout
	newRequest func() *kmsg.FetchRequest
	byLeader   map[int32]*kmsg.FetchRequest
}

func newFetchRequests(layout topicLayout, newRequest func() *kmsg.FetchRequest) *fetchRequests {
	return &fetchRequests{layout: layout, newRequest: newRequest, byLeader: map[int32]*kmsg.FetchRequest{}}
}

// newFetchRequest is a consumer-less Fetch: no replica, no session, no wait.
func newFetchRequest(isolationLevel int8, maxBytes int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = 0
	req.MaxBytes = maxBytes
	req.IsolationLevel = isolationLevel
	req.SessionEpoch = -1
	return req
}

// add asks for partition of topic from offset; it reports false when the
// partition has no known leader.
func (f *fetchRequests) add(topic string, partition int32, offset int64, partitionMaxBytes int32) bool {
	leader, ok := f.layout.leaders[topicPartition{topic: topic, partition: partition}]
	if !ok || leader < 0 {
		return false
	}
	req := f.byLeader[leader]
	if req == nil {
		req = f.newRequest()
		f.byLeader[leader] = req
	}
	part := kmsg.NewFetchRequestTopicPartition()
	part.Partition = partition
	part.FetchOffset = offset
	part.PartitionMaxBytes = partitionMaxBytes
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rt.TopicID = f.layout.ids[topic]
	rt.Partitions = []kmsg.FetchRequestTopicPartition{part}
	req.Topics = append(req.Topics, rt)
	return true
}

// fetchedTopic names a Fetch response topic; v13+ answers by topic ID only.
func (l topicLayout) fetchedTopic(t *kmsg.FetchResponseTopic) string {
	if t.Topic != "" {
		return t.Topic
	}
	return l.names[t.TopicID]
}
