package kafkawakereceiver

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// requestCounter counts, on the kfake server, every request it receives by
// API key.
type requestCounter struct {
	byKey [kmsg.MaxKey + 1]atomic.Int64
}

func countRequests(c *kfake.Cluster) *requestCounter {
	rc := &requestCounter{}
	c.Control(func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if key := req.Key(); key >= 0 && int(key) < len(rc.byKey) {
			rc.byKey[key].Add(1)
		}
		return nil, nil, false
	})
	return rc
}

// snapshot returns the counts by API name, and their total.
func (rc *requestCounter) snapshot() (map[string]int64, int64) {
	counts := map[string]int64{}
	var total int64
	for key := range rc.byKey {
		if n := rc.byKey[key].Load(); n > 0 {
			counts[kmsg.NameForKey(int16(key))] = n
			total += n
		}
	}
	return counts, total
}

// seedWorkload creates topics × partitions with records on every partition,
// and bindings that each pair one topic with one group; every other group
// has committed half of its topic.
func seedWorkload(tb testing.TB, c *kfake.Cluster, topics, bindings int) []BindingConfig {
	tb.Helper()
	client, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DisableClientMetrics(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(tb, err)
	defer client.Close()
	ctx := tb.Context()
	adm := kadm.NewClient(client)
	details := fillEveryPartition(tb, client)

	out := make([]BindingConfig, bindings)
	for i := range out {
		topic := fmt.Sprintf("topic-%03d", i%topics)
		group := fmt.Sprintf("group-%03d", i)
		out[i] = BindingConfig{Topic: topic, ConsumerGroup: group, Function: fmt.Sprintf("fn-%03d", i)}
		if i%2 == 0 {
			var offsets kadm.Offsets
			for p := range details[topic].Partitions {
				offsets.Add(kadm.Offset{Topic: topic, Partition: p, At: 2, LeaderEpoch: -1})
			}
			_, err := adm.CommitOffsets(ctx, group, offsets)
			require.NoError(tb, err)
		}
	}
	return out
}

// fillEveryPartition writes 4 records to every partition of every topic,
// with a client using the manual partitioner, and returns the topics.
func fillEveryPartition(tb testing.TB, client *kgo.Client) kadm.TopicDetails {
	tb.Helper()
	details, err := kadm.NewClient(client).ListTopics(tb.Context())
	require.NoError(tb, err)
	var records []*kgo.Record
	for _, td := range details {
		for p := range td.Partitions {
			for range 4 {
				records = append(records, &kgo.Record{Topic: td.Topic, Partition: p, Value: []byte("m")})
			}
		}
	}
	require.NoError(tb, client.ProduceSync(tb.Context(), records...).FirstErr())
	return details
}

func topicNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("topic-%03d", i)
	}
	return names
}

func TestRequestsPerScrapeDoNotGrowWithBindingsOrPartitions(t *testing.T) {
	const brokers = 3
	budget := int64(3*brokers + 3)
	tests := []struct {
		name                         string
		topics, partitions, bindings int
	}{
		{"5 bindings on 5 topics of 1 partition", 5, 1, 5},
		{"120 bindings on 60 topics of 12 partitions", 60, 12, 120},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := kfake.NewCluster(kfake.NumBrokers(brokers), kfake.SeedTopics(int32(tt.partitions), topicNames(tt.topics)...))
			require.NoError(t, err)
			defer c.Close()
			bindings := seedWorkload(t, c, tt.topics, tt.bindings)
			s, _ := startScraperWith(t, func(cfg *Config) {
				cfg.Brokers = c.ListenAddrs()
				cfg.Bindings = bindings
			})
			// Warm up: connections, API versions, coordinators.
			for range 2 {
				_, err := s.scrape(t.Context())
				require.NoError(t, err)
			}
			rc := countRequests(c)
			const scrapes = 5
			for range scrapes {
				_, err := s.scrape(t.Context())
				require.NoError(t, err)
			}
			counts, total := rc.snapshot()
			t.Logf("requests over %d scrapes: %v", scrapes, counts)
			assert.LessOrEqual(t, total, scrapes*budget, "more than 3 × brokers + 3 requests per scrape: %v", counts)
			assert.LessOrEqual(t, counts["ListOffsets"], int64(scrapes*2*brokers))
			assert.LessOrEqual(t, counts["OffsetFetch"], int64(scrapes*brokers))
			assert.LessOrEqual(t, counts["Metadata"], int64(scrapes), "one Metadata request per scrape keeps partitions fresh")
		})
	}
}
