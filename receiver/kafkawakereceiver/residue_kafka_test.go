package kafkawakereceiver

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkawake/kafkawake/internal/kafkatest"
)

func TestResidueCheckThatFailedIsRetried(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(1, "payments"))
	transactionalTopic(t, c, "payments", "payers")
	s, _ := startScraperWith(t, func(cfg *Config) {
		cfg.Brokers = c.Kfake.ListenAddrs()
		cfg.IsolationLevel = IsolationReadCommitted
		cfg.Bindings = []BindingConfig{{Topic: "payments", ConsumerGroup: "payers", Function: "f"}}
	})
	failed := c.Kfake.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Topic: "payments", Err: kerr.NotLeaderForPartition})
	assert.Equal(t, int64(6), scrapeOK(t, c, s).intValue(t, pendingName, "f"), "not proven empty yet")
	assert.Equal(t, 1, failed.Hits(), "the check was made and failed")
	assert.Equal(t, int64(0), scrapeOK(t, c, s).intValue(t, pendingName, "f"), "the failed check is made again and proves the range empty")
}

// transactionalTopic writes a committed transaction of 10 records, then an
// aborted one of 4, to partition 0 of topic, and has a franz-go
// read_committed consumer in group read everything and commit. Offsets end
// up as: records 0-9, commit marker 10, aborted records 11-14, abort marker
// 15; high watermark 16; the group commits 10.
func transactionalTopic(t *testing.T, c *kafkatest.Cluster, topic, group string) {
	t.Helper()
	producer, err := kgo.NewClient(append(c.ClientOpts, kgo.TransactionalID("txn-"+topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	require.NoError(t, err)
	defer producer.Close()
	ctx := c.Ctx()
	for _, txn := range []struct {
		records int
		commit  kgo.TransactionEndTry
	}{{10, kgo.TryCommit}, {4, kgo.TryAbort}} {
		require.NoError(t, producer.BeginTransaction())
		for range txn.records {
			require.NoError(t, producer.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("v")}).FirstErr())
		}
		require.NoError(t, producer.EndTransaction(ctx, txn.commit))
	}

	consumer, err := kgo.NewClient(append(c.ClientOpts, kgo.ConsumeTopics(topic), kgo.ConsumerGroup(group),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit())...)
	require.NoError(t, err)
	defer consumer.Close()
	for read := 0; read < 10; {
		fetches := consumer.PollFetches(ctx)
		require.NoError(t, fetches.Err())
		read += fetches.NumRecords()
	}
	require.NoError(t, consumer.CommitUncommittedOffsets(ctx))
}

func TestReadCommittedIgnoresTransactionMarkersAndAbortedRecords(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(1, "payments"))
	transactionalTopic(t, c, "payments", "payers")

	start := func(isolation IsolationLevel) *kafkaScraper {
		s, _ := startScraperWith(t, func(cfg *Config) {
			cfg.Brokers = c.Kfake.ListenAddrs()
			cfg.IsolationLevel = isolation
			cfg.Bindings = []BindingConfig{{Topic: "payments", ConsumerGroup: "payers", Function: "f"}}
		})
		return s
	}
	uncommitted, committed := start(IsolationReadUncommitted), start(IsolationReadCommitted)
	assert.Equal(t, int64(6), scrapeOK(t, c, uncommitted).intValue(t, pendingName, "f"),
		"offsets count: two markers and four aborted records")
	rc := countRequests(c.Kfake)
	for range 3 {
		assert.Equal(t, int64(0), scrapeOK(t, c, committed).intValue(t, pendingName, "f"),
			"nothing is readable past the commit: not a permanent lag")
	}
	counts, _ := rc.snapshot()
	assert.Equal(t, int64(1), counts["Fetch"], "a residue is checked once, not every scrape")

	// A real record after the markers is pending again.
	c.Produce("payments", 0, 1)
	for range 2 {
		assert.Equal(t, int64(7), scrapeOK(t, c, committed).intValue(t, pendingName, "f"))
	}
}

func TestReadCommittedStopsAtTheLastStableOffset(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(1, "payments"))
	c.Produce("payments", 0, 5)
	producer, err := kgo.NewClient(append(c.ClientOpts, kgo.TransactionalID("open"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	require.NoError(t, err)
	defer producer.Close()
	require.NoError(t, producer.BeginTransaction())
	for range 3 {
		require.NoError(t, producer.ProduceSync(c.Ctx(), &kgo.Record{Topic: "payments", Value: []byte("v")}).FirstErr())
	}
	defer func() { _ = producer.EndTransaction(c.Ctx(), kgo.TryAbort) }()

	for isolation, want := range map[IsolationLevel]int64{IsolationReadUncommitted: 8, IsolationReadCommitted: 5} {
		s, _ := startScraperWith(t, func(cfg *Config) {
			cfg.Brokers = c.Kfake.ListenAddrs()
			cfg.IsolationLevel = isolation
			cfg.Bindings = []BindingConfig{{Topic: "payments", ConsumerGroup: "g", Function: "f"}}
		})
		assert.Equal(t, want, scrapeOK(t, c, s).intValue(t, pendingName, "f"), string(isolation))
	}
}
