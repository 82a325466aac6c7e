// Package kafkatest is the tests' Kafka: an in-process kfake cluster of three
// brokers with the clients to arrange topics, records and commits on it.
package kafkatest // import "github.com/kafkawake/kafkawake/internal/kafkatest"

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Cluster is a Kafka-protocol cluster with an admin client. Everything it
// starts stops when the test ends.
type Cluster struct {
	T     testing.TB
	Kfake *kfake.Cluster
	// ClientOpts is how the test's own clients connect.
	ClientOpts []kgo.Opt
	Client     *kgo.Client
	Adm        *kadm.Client
}

// New starts a cluster of three brokers with opts.
func New(t testing.TB, opts ...kfake.Opt) *Cluster {
	t.Helper()
	return NewAs(t, nil, opts...)
}

// NewAs starts a cluster whose test clients connect with clientOpts, for
// clusters that require TLS or SASL.
func NewAs(t testing.TB, clientOpts []kgo.Opt, opts ...kfake.Opt) *Cluster {
	t.Helper()
	cluster, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(3)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(cluster.Close)
	c := &Cluster{T: t, Kfake: cluster}
	c.ClientOpts = append([]kgo.Opt{kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.DisableClientMetrics()}, clientOpts...)
	c.Client, err = kgo.NewClient(c.ClientOpts...)
	require.NoError(t, err)
	t.Cleanup(c.Client.Close)
	c.Adm = kadm.NewClient(c.Client)
	return c
}

// Ctx bounds one arrangement step.
func (c *Cluster) Ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	c.T.Cleanup(cancel)
	return ctx
}

// Produce writes n records to one partition.
func (c *Cluster) Produce(topic string, partition int32, n int) {
	c.T.Helper()
	c.ProduceAt(topic, partition, make([]time.Time, n)...)
}

// ProduceAt writes one record per timestamp to one partition, with that
// timestamp as its CreateTime (the zero time: now). It uses a fresh client
// so that partitions created during the test are known to it, and gives up
// with the step's deadline: during a fault, delivery may never happen.
func (c *Cluster) ProduceAt(topic string, partition int32, timestamps ...time.Time) {
	c.T.Helper()
	producer, err := kgo.NewClient(append(c.ClientOpts, kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	require.NoError(c.T, err)
	defer producer.Close()
	records := make([]*kgo.Record, len(timestamps))
	for i, ts := range timestamps {
		records[i] = &kgo.Record{Topic: topic, Partition: partition, Value: []byte("m"), Timestamp: ts}
	}
	require.NoError(c.T, producer.ProduceSync(c.Ctx(), records...).FirstErr())
}

// Commit sets the group's committed offset on one partition, as a consumer
// that processed everything before offset at would.
func (c *Cluster) Commit(group, topic string, partition int32, at int64) {
	c.T.Helper()
	var offsets kadm.Offsets
	offsets.Add(kadm.Offset{Topic: topic, Partition: partition, At: at, LeaderEpoch: -1})
	resp, err := c.Adm.CommitOffsets(c.Ctx(), group, offsets)
	require.NoError(c.T, err)
	require.NoError(c.T, resp.Error())
}

// AllowACL lets a kfake user do op on the literal resource name.
func AllowACL(resource kmsg.ACLResourceType, name string, op kmsg.ACLOperation) kfake.ACL {
	return kfake.ACL{Resource: resource, Name: name, Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: op, Allow: true}
}

// ShareConsumer is a franz-go share-group consumer (KIP-932) of one topic:
// a member of the share group while it is open.
type ShareConsumer struct {
	c      *Cluster
	Client *kgo.Client
}

// JoinShareGroup opens a share consumer of topic in group that takes at
// most maxRecords records per poll. It is closed when the test ends.
func (c *Cluster) JoinShareGroup(group, topic string, maxRecords int32) *ShareConsumer {
	c.T.Helper()
	client, err := kgo.NewClient(append(c.ClientOpts,
		kgo.ShareGroup(group), kgo.ConsumeTopics(topic),
		kgo.ShareMaxRecords(maxRecords), kgo.ShareMaxRecordsStrict(),
		kgo.FetchMaxWait(100*time.Millisecond))...)
	require.NoError(c.T, err)
	c.T.Cleanup(client.Close)
	return &ShareConsumer{c: c, Client: client}
}

// Acquire polls until it holds at least n records, and returns those of
// the last poll: acquired, not acknowledged. A poll acknowledges (accepts)
// what the previous one returned and was not acknowledged, as franz-go does.
func (s *ShareConsumer) Acquire(n int) []*kgo.Record {
	s.c.T.Helper()
	ctx := s.c.Ctx()
	var records []*kgo.Record
	for len(records) < n {
		fetches := s.Client.PollFetches(ctx)
		require.NoError(s.c.T, ctx.Err(), "acquiring %d records: %d so far", n, len(records))
		fetches.EachError(func(topic string, partition int32, err error) {
			require.NoError(s.c.T, err, "share fetch of partition %d of %s", partition, topic)
		})
		records = append(records, fetches.Records()...)
	}
	return records
}

// Ack acknowledges records with status and waits until the broker has them.
func (s *ShareConsumer) Ack(status kgo.AckStatus, records ...*kgo.Record) {
	s.c.T.Helper()
	for _, r := range records {
		r.Ack(status)
	}
	require.NoError(s.c.T, s.Client.FlushAcks(s.c.Ctx()))
}

// Leave closes the consumer: unacknowledged records are released and the
// member leaves, so the group is empty but keeps its share-partitions.
func (s *ShareConsumer) Leave() { s.Client.Close() }

// SetShareReset sets a share group's share.auto.offset.reset; it applies to
// the partitions the group initialises afterwards.
func (c *Cluster) SetShareReset(group, value string) {
	c.Kfake.SetGroupConfigs(group, map[string]string{"share.auto.offset.reset": value})
}

// CountCoordinatorLookups counts, from now on, the FindCoordinator requests
// that ask for group's coordinator.
func (c *Cluster) CountCoordinatorLookups(group string) *atomic.Int64 {
	var lookups atomic.Int64
	c.Kfake.ControlKey(int16(kmsg.FindCoordinator), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.Kfake.KeepControl()
		if slices.Contains(req.(*kmsg.FindCoordinatorRequest).CoordinatorKeys, group) {
			lookups.Add(1)
		}
		return nil, nil, false
	})
	return &lookups
}
