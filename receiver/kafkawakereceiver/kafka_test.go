package kafkawakereceiver

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// testCluster is an in-process Kafka-protocol cluster with an admin client
// for arranging topics and commits.
type testCluster struct {
	t          *testing.T
	cluster    *kfake.Cluster
	clientOpts []kgo.Opt // how the test's own clients connect
	client     *kgo.Client
	adm        *kadm.Client
}

func newTestCluster(t *testing.T, opts ...kfake.Opt) *testCluster {
	t.Helper()
	return newTestClusterAs(t, nil, opts...)
}

// newTestClusterAs starts a cluster whose test clients connect with
// clientOpts, for clusters that require TLS or SASL.
func newTestClusterAs(t *testing.T, clientOpts []kgo.Opt, opts ...kfake.Opt) *testCluster {
	t.Helper()
	cluster, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(3)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(cluster.Close)
	c := &testCluster{t: t, cluster: cluster}
	c.clientOpts = append([]kgo.Opt{kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.DisableClientMetrics()}, clientOpts...)
	c.client, err = kgo.NewClient(c.clientOpts...)
	require.NoError(t, err)
	t.Cleanup(c.client.Close)
	c.adm = kadm.NewClient(c.client)
	return c
}

func (c *testCluster) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	c.t.Cleanup(cancel)
	return ctx
}

// produce writes n records to one partition. It uses a fresh client so that
// partitions created during the test are known to it.
func (c *testCluster) produce(topic string, partition int32, n int) {
	c.t.Helper()
	producer, err := kgo.NewClient(append(c.clientOpts, kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	require.NoError(c.t, err)
	defer producer.Close()
	records := make([]*kgo.Record, n)
	for i := range records {
		records[i] = &kgo.Record{Topic: topic, Partition: partition, Value: []byte("m")}
	}
	require.NoError(c.t, producer.ProduceSync(c.ctx(), records...).FirstErr())
}

// commit sets the group's committed offset on one partition, as a consumer
// that processed everything before offset `at` would.
func (c *testCluster) commit(group, topic string, partition int32, at int64) {
	c.t.Helper()
	var offsets kadm.Offsets
	offsets.Add(kadm.Offset{Topic: topic, Partition: partition, At: at, LeaderEpoch: -1})
	resp, err := c.adm.CommitOffsets(c.ctx(), group, offsets)
	require.NoError(c.t, err)
	require.NoError(c.t, resp.Error())
}

// allowACL lets a kfake user do op on the literal resource name.
func allowACL(resource kmsg.ACLResourceType, name string, op kmsg.ACLOperation) kfake.ACL {
	return kfake.ACL{Resource: resource, Name: name, Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: op, Allow: true}
}
