package kafkawakereceiver

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkawake/kafkawake/internal/kafkatest"
)

// shareTruth is a share group's pending value on topic computed with kadm,
// for a group that resets to earliest: the broker's lag on the partitions
// the group has initialised, every retained record on the others.
func shareTruth(t testing.TB, adm *kadm.Client, ctx context.Context, group, topic string) int64 {
	t.Helper()
	described, err := adm.DescribeShareGroupOffsets(ctx, group)
	require.NoError(t, err)
	require.NoError(t, described[group].Err)
	ends, err := adm.ListEndOffsets(ctx, topic)
	require.NoError(t, errors.Join(err, ends.Error()))
	starts, err := adm.ListStartOffsets(ctx, topic)
	require.NoError(t, errors.Join(err, starts.Error()))
	var pending int64
	for p, end := range ends[topic] {
		o, ok := described[group].Offsets.Lookup(topic, p)
		if ok && o.StartOffset >= 0 {
			require.NoError(t, o.Err)
			require.GreaterOrEqual(t, o.Lag, int64(0))
			pending += o.Lag
			continue
		}
		pending += end.Offset - starts[topic][p].Offset
	}
	return pending
}

func TestShareGroupCountsAcquiredRecordsUntilAcknowledged(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(2, "jobs"))
	c.SetShareReset("queue", "earliest")
	c.Produce("jobs", 0, 10)
	c.Produce("jobs", 1, 6)
	s, _ := startScraper(t, c.Kfake.ListenAddrs(), OffsetResetEarliest,
		BindingConfig{Topic: "jobs", ShareGroup: "queue", Function: "worker"},
		BindingConfig{Topic: "jobs", ConsumerGroup: "audit", Function: "audit"})

	pts := scrapeOK(t, c, s)
	assert.Equal(t, int64(16), pts.intValue(t, pendingName, "worker"), "never initialised, earliest: every retained record")
	assert.Equal(t, int64(16), pts.intValue(t, pendingName, "audit"), "the consumer-group binding beside it")
	assert.Equal(t, int64(0), pts.intValue(t, membersName, "worker"))

	worker := c.JoinShareGroup("queue", "jobs", 4)
	acquired := worker.Acquire(1)
	pts = scrapeOK(t, c, s)
	assert.Equal(t, int64(16), pts.intValue(t, pendingName, "worker"), "acquired but not acknowledged still waits")
	assert.Equal(t, int64(0), pts.intValue(t, consumedName, "worker"))
	assert.Equal(t, int64(1), pts.intValue(t, membersName, "worker"))
	assert.NotEqual(t, "error", pts.status(t, "worker"))

	// The first record of the poll is the first of its partition: accepting
	// it moves that partition's start offset. The others are released (back
	// to available) or kept acquired; both still wait.
	worker.Ack(kgo.AckAccept, acquired[0])
	if len(acquired) > 1 {
		worker.Ack(kgo.AckRelease, acquired[1])
	}
	pts = scrapeOK(t, c, s)
	assert.Equal(t, int64(15), pts.intValue(t, pendingName, "worker"))
	assert.Equal(t, shareTruth(t, c.Adm, c.Ctx(), "queue", "jobs"), pts.intValue(t, pendingName, "worker"), "kadm's truth")
	assert.Equal(t, int64(1), pts.intValue(t, consumedName, "worker"), "consumption is the start offsets' growth")
	assert.True(t, pts.has(lastActivityName, "worker"))

	worker.Leave()
	pts = scrapeOK(t, c, s)
	assert.Equal(t, int64(15), pts.intValue(t, pendingName, "worker"), "leaving releases what was acquired: it still waits")
	assert.Equal(t, int64(0), pts.intValue(t, membersName, "worker"), "an empty share group keeps its share-partitions")
}

func TestShareGroupNeverInitialisedCountsByItsReset(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(1, "jobs-latest", "jobs-recent"))
	c.SetShareReset("recent", "by_duration:PT1H")
	s, clock := startScraper(t, c.Kfake.ListenAddrs(), OffsetResetEarliest,
		BindingConfig{Topic: "jobs-latest", ShareGroup: "unset", Function: "latest"},
		BindingConfig{Topic: "jobs-recent", ShareGroup: "recent", Function: "recent"})
	now := clock.Now()
	c.Produce("jobs-latest", 0, 5)
	c.ProduceAt("jobs-recent", 0, now.Add(-3*time.Hour), now.Add(-2*time.Hour), now.Add(-50*time.Minute), now.Add(-time.Minute))

	pts := scrapeOK(t, c, s)
	assert.Equal(t, int64(0), pts.intValue(t, pendingName, "latest"), "unset is latest: what was there at first sight is not pending")
	assert.Equal(t, int64(2), pts.intValue(t, pendingName, "recent"), "by_duration: the records of the last hour")

	c.Produce("jobs-latest", 0, 3)
	clock.Advance(40 * time.Minute)
	pts = scrapeOK(t, c, s)
	assert.Equal(t, int64(3), pts.intValue(t, pendingName, "latest"))
	assert.Equal(t, int64(1), pts.intValue(t, pendingName, "recent"), "the window moves with time")
}

// answerShareOffsets makes the share-group coordinators answer
// DescribeShareGroupOffsets for group with fill's partitions, and the
// other groups of the request as kfake would.
func answerShareOffsets(t *testing.T, c *kafkatest.Cluster, group string, fill func(*kmsg.DescribeShareGroupOffsetsResponseGroup)) {
	t.Helper()
	c.Kfake.ControlKey(int16(kmsg.DescribeShareGroupOffsets), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.Kfake.KeepControl()
		r := req.(*kmsg.DescribeShareGroupOffsetsRequest)
		if len(r.Groups) != 1 || r.Groups[0].GroupID != group {
			return nil, nil, false
		}
		resp := r.ResponseKind().(*kmsg.DescribeShareGroupOffsetsResponse)
		resp.Version = r.Version
		g := kmsg.NewDescribeShareGroupOffsetsResponseGroup()
		g.GroupID = group
		fill(&g)
		resp.Groups = append(resp.Groups, g)
		return resp, nil, true
	})
}

func sharePartitionAnswer(topic string, partition int32, start, lag int64, code int16) kmsg.DescribeShareGroupOffsetsResponseGroupTopic {
	rt := kmsg.NewDescribeShareGroupOffsetsResponseGroupTopic()
	rt.Topic = topic
	rp := kmsg.NewDescribeShareGroupOffsetsResponseGroupTopicPartition()
	rp.Partition, rp.StartOffset, rp.Lag, rp.ErrorCode = partition, start, lag, code
	rt.Partitions = append(rt.Partitions, rp)
	return rt
}

// A share group's read that fails is an error for its bindings only: no
// pending point, the cause named; the consumer-group binding on the same
// coordinator is reported in the same scrape.
func TestShareGroupErrorsAreNeverCounts(t *testing.T) {
	tests := []struct {
		name    string
		fill    func(*kmsg.DescribeShareGroupOffsetsResponseGroup)
		wantErr string
	}{
		{"the broker cannot tell the lag", func(g *kmsg.DescribeShareGroupOffsetsResponseGroup) {
			g.Topics = append(g.Topics, sharePartitionAnswer("jobs", 0, 3, -1, 0))
		}, `share-partition 0 of topic "jobs" in share group "queue": the broker could not tell its lag (-1)`},
		{"a partition error", func(g *kmsg.DescribeShareGroupOffsetsResponseGroup) {
			g.Topics = append(g.Topics, sharePartitionAnswer("jobs", 0, 0, 0, kerr.UnknownServerError.Code))
		}, `share-partition 0 of topic "jobs" in share group "queue"`},
		{"the group is not authorized", func(g *kmsg.DescribeShareGroupOffsetsResponseGroup) {
			g.ErrorCode = kerr.GroupAuthorizationFailed.Code
		}, `the offsets of share group "queue" are not authorized (grant Describe on the group`},
		{"the coordinator fails", func(g *kmsg.DescribeShareGroupOffsetsResponseGroup) {
			g.ErrorCode = kerr.CoordinatorLoadInProgress.Code
		}, `reading the offsets of share group "queue" from coordinator broker`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := kafkatest.New(t, kfake.SeedTopics(1, "jobs"))
			c.Produce("jobs", 0, 10)
			node := c.Kfake.CoordinatorFor("queue")
			group := groupCoordinatedBy(t, c.Kfake, "audit", node)
			s, _ := startScraper(t, c.Kfake.ListenAddrs(), OffsetResetEarliest,
				BindingConfig{Topic: "jobs", ShareGroup: "queue", Function: "worker"},
				BindingConfig{Topic: "jobs", ConsumerGroup: group, Function: "audit"})
			answerShareOffsets(t, c, "queue", tt.fill)

			md, err := s.scrape(c.Ctx())
			require.Error(t, err)
			assert.ErrorContains(t, err, tt.wantErr)
			assert.ErrorContains(t, err, `binding topic "jobs", share_group "queue", function "worker"`)
			pts := pointsByFunction(t, md)
			assert.False(t, pts.has(pendingName, "worker"), "an unreadable share group has no pending point, never 0")
			assert.Equal(t, "error", pts.status(t, "worker"))
			assert.Equal(t, int64(10), pts.intValue(t, pendingName, "audit"), "the consumer group on the same coordinator is unaffected")
		})
	}
}

// A coordinator that does not answer takes dark only the share groups it
// coordinates.
func TestSlowShareCoordinatorDelaysOnlyItsGroups(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(1, "jobs"))
	// The partition's leader is another broker: a stalled request holds the
	// ones behind it on the same connection.
	placePartitions(t, c.Kfake, "jobs", 2)
	c.Produce("jobs", 0, 4)
	slow := groupCoordinatedBy(t, c.Kfake, "slow", 0)
	fine := groupCoordinatedBy(t, c.Kfake, "fine", 1)
	c.SetShareReset(slow, "earliest")
	c.SetShareReset(fine, "earliest")
	s, _ := startScraperWith(t, func(cfg *Config) {
		cfg.Brokers = c.Kfake.ListenAddrs()
		cfg.Timeout = stallTimeout
		cfg.Bindings = []BindingConfig{
			{Topic: "jobs", ShareGroup: slow, Function: "slow"},
			{Topic: "jobs", ShareGroup: fine, Function: "fine"},
		}
	})
	scrapeOK(t, c, s) // learns the coordinators and the resets
	st := stallRequests(t, c.Kfake, kmsg.DescribeShareGroupOffsets, 0, nil)
	defer st.end()
	pts, err := scrapeWithin(t, s, 2*stallTimeout)
	require.Error(t, err)
	assert.ErrorContains(t, err, `share group "`+slow+`"`)
	assert.False(t, pts.has(pendingName, "slow"))
	assert.Equal(t, int64(4), pts.intValue(t, pendingName, "fine"))
}

// Without DescribeConfigs on the group, where a never-initialised group
// starts is unknown: an error that says what to grant, not a guess.
func TestUnreadableShareResetIsAnError(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(1, "jobs"))
	c.Produce("jobs", 0, 4)
	c.Kfake.ControlKey(int16(kmsg.DescribeConfigs), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.Kfake.KeepControl()
		r := req.(*kmsg.DescribeConfigsRequest)
		resp := r.ResponseKind().(*kmsg.DescribeConfigsResponse)
		resp.Version = r.Version
		for _, rr := range r.Resources {
			res := kmsg.NewDescribeConfigsResponseResource()
			res.ResourceType, res.ResourceName, res.ErrorCode = rr.ResourceType, rr.ResourceName, kerr.GroupAuthorizationFailed.Code
			resp.Resources = append(resp.Resources, res)
		}
		return resp, nil, true
	})
	s, _ := startScraper(t, c.Kfake.ListenAddrs(), OffsetResetEarliest,
		BindingConfig{Topic: "jobs", ShareGroup: "queue", Function: "worker"})
	md, err := s.scrape(c.Ctx())
	require.Error(t, err)
	assert.ErrorContains(t, err, `partition 0 of topic "jobs" is not initialised by share group "queue"`)
	assert.ErrorContains(t, err, "grant DescribeConfigs on the group")
	assert.False(t, pointsByFunction(t, md).has(pendingName, "worker"))
}

// The watch sees the first message of an idle queue as it does a consumer
// group's: an early report, between scrapes.
func TestWatchReportsAnIdleShareGroupAtOnce(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(2, "jobs"))
	c.SetShareReset("queue", "earliest")
	w := startWatchedReceiver(t, func(cfg *Config) {
		cfg.Brokers = c.Kfake.ListenAddrs()
		cfg.Bindings = []BindingConfig{{Topic: "jobs", ShareGroup: "queue", Function: "worker"}}
	})
	require.Equal(t, int64(0), pointsByFunction(t, w.sink.AllMetrics()[0]).intValue(t, pendingName, "worker"))
	w.waitWatched(partitionsOf("jobs", 2)...)

	c.Produce("jobs", 1, 1)
	assert.Equal(t, int64(1), w.waitReports(2).intValue(t, pendingName, "worker"))
}

// The pending age of a share group dates its oldest record not yet
// acknowledged: the one at the share-partition start offset.
func TestShareGroupPendingAgeDatesTheOldestUnacknowledgedRecord(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(1, "jobs"))
	c.SetShareReset("queue", "earliest")
	s, clock := startScraperWith(t, func(cfg *Config) {
		cfg.Brokers = c.Kfake.ListenAddrs()
		cfg.PendingAge.Method = PendingAgeFetch
		cfg.Bindings = []BindingConfig{{Topic: "jobs", ShareGroup: "queue", Function: "worker"}}
	})
	c.ProduceAt("jobs", 0, secondsBefore(clock.Now(), 6, 100)...) // offsets 0..5, 105 s to 100 s old
	assert.InDelta(t, 105, scrapeOK(t, c, s).seconds(t, "worker"), 1e-6, "never initialised, earliest: the first retained record")

	worker := c.JoinShareGroup("queue", "jobs", 2)
	worker.Ack(kgo.AckAccept, worker.Acquire(2)[:2]...)
	assert.InDelta(t, 103, scrapeOK(t, c, s).seconds(t, "worker"), 1e-6, "offsets 0 and 1 acknowledged: offset 2 is the oldest waiting")
}
