package kafkawakereceiver

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestReadableRecordsIn(t *testing.T) {
	data := func(first, last int64) batchSummary { return batchSummary{first: first, last: last} }
	txnData := func(first, last, producer int64) batchSummary {
		return batchSummary{first: first, last: last, producerID: producer, transactional: true}
	}
	marker := func(at, producer int64) batchSummary {
		return batchSummary{first: at, last: at, producerID: producer, transactional: true, control: true}
	}
	tests := []struct {
		name         string
		batches      []batchSummary
		aborted      []abortedTxn
		r            offsetRange
		wantFound    bool
		wantComplete bool
	}{
		{"commit marker only", []batchSummary{txnData(0, 9, 7), marker(10, 7)}, nil, offsetRange{10, 11}, false, true},
		{"aborted records and their marker", []batchSummary{marker(10, 7), txnData(11, 14, 8), marker(15, 8)},
			[]abortedTxn{{producerID: 8, firstOffset: 11}}, offsetRange{10, 16}, false, true},
		{"committed transactional records are readable", []batchSummary{txnData(11, 14, 8), marker(15, 8)}, nil, offsetRange{11, 16}, true, true},
		{"a plain record after the markers", []batchSummary{marker(10, 7), data(11, 11)}, nil, offsetRange{10, 12}, true, true},
		{"the batch holding the range start begins before it", []batchSummary{data(5, 12)}, nil, offsetRange{10, 13}, true, true},
		{"answer stops before the range end", []batchSummary{marker(10, 7)}, nil, offsetRange{10, 40}, false, false},
		{"another producer's abort does not hide data", []batchSummary{txnData(11, 12, 9), marker(13, 9)},
			[]abortedTxn{{producerID: 8, firstOffset: 11}}, offsetRange{11, 14}, true, true},
		{"no batches", nil, nil, offsetRange{10, 11}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			found, complete := readableRecordsIn(tt.batches, tt.aborted, tt.r)
			assert.Equal(t, tt.wantFound, found, "found")
			assert.Equal(t, tt.wantComplete, complete, "complete")
		})
	}
}

func TestResidueMemory(t *testing.T) {
	m := newResidueChecker(1).memories[0]
	offsets := map[int32]partitionOffsets{
		0: {highWatermark: 11, logStart: 0, committed: 10}, // residue
		1: {highWatermark: 20, logStart: 0, committed: 20}, // consumed
		2: {highWatermark: 5, logStart: 0, committed: noCommit},
	}
	assert.Equal(t, map[int32]offsetRange{0: {10, 11}}, m.suspects(offsets), "first sight is checked")
	assert.Equal(t, offsets, m.apply(offsets), "nothing is closed without a verdict")
	assert.Equal(t, map[int32]offsetRange{0: {10, 11}}, m.suspects(offsets), "a range that could not be checked is checked again")

	m.verdicts[0] = rangeVerdict{offsetRange: offsetRange{10, 11}, empty: true}
	closed := m.apply(offsets)
	assert.Equal(t, partitionOffsets{highWatermark: 10, logStart: 0, committed: 10}, closed[0], "a proven residue is closed")
	assert.Equal(t, offsets[1], closed[1])
	assert.Equal(t, offsets[2], closed[2])
	assert.Empty(t, m.suspects(offsets), "a proven range is not checked again")

	// The partition moves on: the verdict is dropped, a live range is not
	// checked until it holds still.
	moved := map[int32]partitionOffsets{0: {highWatermark: 14, logStart: 0, committed: 10}}
	assert.Empty(t, m.suspects(moved))
	assert.Equal(t, moved, m.apply(moved))
	assert.Empty(t, m.verdicts, "the verdict of a range that moved is forgotten")
	assert.Equal(t, map[int32]offsetRange{0: {10, 14}}, m.suspects(moved))

	// A range with readable records stays pending and is not checked again
	// while it holds still.
	m.verdicts[0] = rangeVerdict{offsetRange: offsetRange{10, 14}, empty: false}
	assert.Equal(t, moved, m.apply(moved))
	assert.Empty(t, m.suspects(moved))
}

// transactionalTopic writes a committed transaction of 10 records, then an
// aborted one of 4, to partition 0 of topic, and has a franz-go
// read_committed consumer in group read everything and commit. Offsets end
// up as: records 0-9, commit marker 10, aborted records 11-14, abort marker
// 15; high watermark 16; the group commits 10.
func transactionalTopic(t *testing.T, c *testCluster, topic, group string) {
	t.Helper()
	producer, err := kgo.NewClient(append(c.clientOpts, kgo.TransactionalID("txn-"+topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	require.NoError(t, err)
	defer producer.Close()
	ctx := c.ctx()
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

	consumer, err := kgo.NewClient(append(c.clientOpts, kgo.ConsumeTopics(topic), kgo.ConsumerGroup(group),
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
	c := newTestCluster(t, kfake.SeedTopics(1, "payments"))
	transactionalTopic(t, c, "payments", "payers")

	start := func(isolation IsolationLevel) *kafkaScraper {
		s, _ := startScraperWith(t, func(cfg *Config) {
			cfg.Brokers = c.cluster.ListenAddrs()
			cfg.IsolationLevel = isolation
			cfg.Bindings = []BindingConfig{{Topic: "payments", ConsumerGroup: "payers", Function: "f"}}
		})
		return s
	}
	uncommitted, committed := start(IsolationReadUncommitted), start(IsolationReadCommitted)
	assert.Equal(t, int64(6), scrapeOK(t, c, uncommitted).intValue(t, pendingName, "f"),
		"offsets count: two markers and four aborted records")
	rc := countRequests(c.cluster)
	for range 3 {
		assert.Equal(t, int64(0), scrapeOK(t, c, committed).intValue(t, pendingName, "f"),
			"nothing is readable past the commit: not a permanent lag")
	}
	counts, _ := rc.snapshot()
	assert.Equal(t, int64(1), counts["Fetch"], "a residue is checked once, not every scrape")

	// A real record after the markers is pending again.
	c.produce("payments", 0, 1)
	for range 2 {
		assert.Equal(t, int64(7), scrapeOK(t, c, committed).intValue(t, pendingName, "f"))
	}
}

func TestReadCommittedStopsAtTheLastStableOffset(t *testing.T) {
	c := newTestCluster(t, kfake.SeedTopics(1, "payments"))
	c.produce("payments", 0, 5)
	producer, err := kgo.NewClient(append(c.clientOpts, kgo.TransactionalID("open"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	require.NoError(t, err)
	defer producer.Close()
	require.NoError(t, producer.BeginTransaction())
	for range 3 {
		require.NoError(t, producer.ProduceSync(c.ctx(), &kgo.Record{Topic: "payments", Value: []byte("v")}).FirstErr())
	}
	defer func() { _ = producer.EndTransaction(c.ctx(), kgo.TryAbort) }()

	for isolation, want := range map[IsolationLevel]int64{IsolationReadUncommitted: 8, IsolationReadCommitted: 5} {
		s, _ := startScraperWith(t, func(cfg *Config) {
			cfg.Brokers = c.cluster.ListenAddrs()
			cfg.IsolationLevel = isolation
			cfg.Bindings = []BindingConfig{{Topic: "payments", ConsumerGroup: "g", Function: "f"}}
		})
		assert.Equal(t, want, scrapeOK(t, c, s).intValue(t, pendingName, "f"), string(isolation))
	}
}
