package kafkawakereceiver

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
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
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/offset"
)

var faultSeed = flag.Uint64("fault-seed", 0, "run the random fault test with this seed only")

const (
	faultRounds        = 6
	faultScrapeTimeout = time.Second
	faultBrokers       = 3
)

// faultTally counts, over every seed, what the property was checked on, so
// that the test fails if its faults never bit or nothing was compared.
type faultTally struct{ compared, shareCompared, absent atomic.Int64 }

// TestPendingUnderRandomFaultsIsExactOrAbsent runs scrapes while random
// brokers and coordinators stall, partitions lose their leader and requests
// fail, and checks every binding of every scrape: its pending point equals
// the value computed independently with kadm from the same cluster state
// (nothing is produced or committed during a scrape), or it has no point and
// the scrape's partial error names it.
func TestPendingUnderRandomFaultsIsExactOrAbsent(t *testing.T) {
	seeds := []uint64{1, 2, 3}
	if *faultSeed != 0 {
		seeds = []uint64{*faultSeed}
	}
	var tally faultTally
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Logf("seed %d (rerun alone with -fault-seed=%d)", seed, seed)
			runRandomFaults(t, rand.New(rand.NewPCG(seed, seed)), &tally)
			if t.Failed() {
				t.Logf("failed with seed %d: rerun with -run 'TestPendingUnderRandomFaultsIsExactOrAbsent' -fault-seed=%d", seed, seed)
			}
		})
	}
	t.Logf("%d pending points compared (%d of share groups), %d absent with an error naming the binding", tally.compared.Load(), tally.shareCompared.Load(), tally.absent.Load())
	assert.Positive(t, tally.compared.Load(), "no pending point was ever compared")
	assert.Positive(t, tally.shareCompared.Load(), "no share group's pending point was ever compared")
	if *faultSeed == 0 {
		assert.Positive(t, tally.absent.Load(), "the faults never took a binding dark")
	}
}

// faultyCluster is a cluster that changes between scrapes and fails in
// random ways during them.
type faultyCluster struct {
	*kafkatest.Cluster
	rng *rand.Rand

	topics     map[string]int32 // partitions per topic
	topicNames []string         // sorted, so that a seed replays the same draws
	groups     []string
	// shareGroups reset to earliest; each has a worker that acquires and
	// acknowledges records between scrapes.
	shareGroups  []string
	shareWorkers map[string]*kafkatest.ShareConsumer
	produced     map[offset.TopicPartition]int64
	logStarts    map[offset.TopicPartition]int64
	// adm reads the expected values; its metadata is short-lived so that
	// moved leaders are learnt at once.
	adm *kadm.Client

	roundStall  *stall
	roundFaults []*kfake.FaultHandle
}

func newFaultyCluster(t *testing.T, rng *rand.Rand) *faultyCluster {
	topics := map[string]int32{"t1": 1, "t2": 2, "t3": 3, "t4": 4}
	var opts []kfake.Opt
	for name, partitions := range topics {
		opts = append(opts, kfake.SeedTopics(partitions, name))
	}
	c := &faultyCluster{
		Cluster:    kafkatest.New(t, opts...),
		rng:        rng,
		topics:     topics,
		topicNames: []string{"t1", "t2", "t3", "t4"},
		groups:     []string{"g1", "g2", "g3", "g4"},
		produced:   map[offset.TopicPartition]int64{},
		logStarts:  map[offset.TopicPartition]int64{},

		shareGroups:  []string{"s1", "s2"},
		shareWorkers: map[string]*kafkatest.ShareConsumer{},
	}
	for i, g := range c.shareGroups {
		c.SetShareReset(g, "earliest")
		// Each share group reads two topics; its worker reads one of them,
		// so the other stays uninitialised.
		c.shareWorkers[g] = c.JoinShareGroup(g, c.topicNames[i], 5)
	}
	client, err := kgo.NewClient(append(c.ClientOpts, kgo.MetadataMinAge(10*time.Millisecond), kgo.MetadataMaxAge(time.Second))...)
	require.NoError(t, err)
	t.Cleanup(client.Close)
	c.adm = kadm.NewClient(client)
	return c
}

// change produces, commits, deletes records and moves leaders and
// coordinators at random, between scrapes.
func (c *faultyCluster) change() {
	t := c.T
	producer, err := kgo.NewClient(append(c.ClientOpts, kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	require.NoError(t, err)
	defer producer.Close()
	var records []*kgo.Record
	for _, topic := range c.topicNames {
		for p := range c.topics[topic] {
			if c.rng.IntN(2) == 0 {
				continue
			}
			n := c.rng.IntN(8)
			for range n {
				records = append(records, &kgo.Record{Topic: topic, Partition: p, Value: []byte("m")})
			}
			c.produced[offset.TopicPartition{Topic: topic, Partition: p}] += int64(n)
		}
	}
	require.NoError(t, producer.ProduceSync(c.Ctx(), records...).FirstErr())
	for _, topic := range c.topicNames {
		for p := range c.topics[topic] {
			c.changeOffsets(offset.TopicPartition{Topic: topic, Partition: p})
		}
	}
	for _, g := range c.shareGroups {
		c.work(c.shareWorkers[g])
	}
	if c.rng.IntN(3) == 0 {
		c.Kfake.ShufflePartitionLeaders()
	}
	if c.rng.IntN(4) == 0 {
		c.Kfake.RehashCoordinators()
	}
}

// work has a share worker take records now and then and settle each at
// random: accepted, released, rejected or left acquired. The next poll
// accepts what was left acquired, as franz-go does.
func (c *faultyCluster) work(worker *kafkatest.ShareConsumer) {
	if c.rng.IntN(2) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(c.Ctx(), 300*time.Millisecond)
	defer cancel()
	records := worker.Client.PollFetches(ctx).Records()
	for _, r := range records {
		switch c.rng.IntN(4) {
		case 0:
			r.Ack(kgo.AckAccept)
		case 1:
			r.Ack(kgo.AckRelease)
		case 2:
			r.Ack(kgo.AckReject)
		}
	}
	require.NoError(c.T, worker.Client.FlushAcks(c.Ctx()))
}

// changeOffsets may delete records of a partition and move the groups'
// commits on it.
func (c *faultyCluster) changeOffsets(tp offset.TopicPartition) {
	end, start := c.produced[tp], c.logStarts[tp]
	if c.rng.IntN(8) == 0 && end > start {
		start += c.rng.Int64N(end - start + 1)
		require.NoError(c.T, c.Kfake.DeleteRecords(tp.Topic, tp.Partition, start))
		c.logStarts[tp] = start
	}
	for _, g := range c.groups {
		if c.rng.IntN(4) == 0 {
			// Now and then past the end: a stale commit.
			c.Commit(g, tp.Topic, tp.Partition, c.rng.Int64N(end+3))
		}
	}
}

// injectFaults starts this round's faults and describes them.
func (c *faultyCluster) injectFaults() []string {
	var faults []string
	if c.rng.IntN(3) == 0 {
		key := []kmsg.Key{kmsg.ListOffsets, kmsg.OffsetFetch, kmsg.Metadata, kmsg.DescribeShareGroupOffsets}[c.rng.IntN(4)]
		node := c.rng.Int32N(faultBrokers)
		c.roundStall = stallRequests(c.T, c.Kfake, key, node, nil)
		faults = append(faults, fmt.Sprintf("%s stalls on broker %d", key.Name(), node))
	}
	topic, partition := c.randomPartition()
	switch c.rng.IntN(4) {
	case 0:
		c.roundFaults = append(c.roundFaults, c.Kfake.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Metadata}, Topic: topic, Partitions: []int32{partition}, Err: kerr.LeaderNotAvailable, Count: -1}))
		faults = append(faults, fmt.Sprintf("partition %d of %s has no leader", partition, topic))
	case 1:
		c.roundFaults = append(c.roundFaults, c.Kfake.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.ListOffsets}, Topic: topic, Partitions: []int32{partition}, Err: kerr.UnknownServerError, Count: -1}))
		faults = append(faults, fmt.Sprintf("ListOffsets fails on partition %d of %s", partition, topic))
	case 2:
		group := c.groups[c.rng.IntN(len(c.groups))]
		c.roundFaults = append(c.roundFaults, c.Kfake.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetFetch}, Group: group, Err: kerr.UnknownServerError, Count: -1}))
		faults = append(faults, fmt.Sprintf("OffsetFetch fails for %s", group))
	}
	return faults
}

func (c *faultyCluster) endFaults() {
	if c.roundStall != nil {
		c.roundStall.end()
		c.roundStall = nil
	}
	for _, h := range c.roundFaults {
		h.Remove()
	}
	c.roundFaults = nil
}

func (c *faultyCluster) randomPartition() (string, int32) {
	topic := c.topicNames[c.rng.IntN(len(c.topicNames))]
	return topic, c.rng.Int32N(c.topics[topic])
}

// expectedPending computes every binding's pending value with kadm, as the
// lag rules state it for a group with commits or offset_reset earliest.
func (c *faultyCluster) expectedPending(bindings []BindingConfig) map[string]int64 {
	t := c.T
	var ends, starts kadm.ListedOffsets
	// Leaders may just have moved: the admin client retries until it has
	// learnt where they are.
	for attempt := 0; ; attempt++ {
		var endsErr, startsErr error
		ends, endsErr = c.adm.ListEndOffsets(c.Ctx(), c.topicNames...)
		starts, startsErr = c.adm.ListStartOffsets(c.Ctx(), c.topicNames...)
		err := errors.Join(endsErr, ends.Error(), startsErr, starts.Error())
		if err == nil {
			break
		}
		require.Less(t, attempt, 100, "reading the expected offsets: %v", err)
		time.Sleep(20 * time.Millisecond)
	}
	want := map[string]int64{}
	for _, b := range bindings {
		if b.IsShare() {
			continue
		}
		commits, err := c.adm.FetchOffsets(c.Ctx(), b.ConsumerGroup)
		if !errors.Is(err, kerr.GroupIDNotFound) {
			require.NoError(t, err)
		}
		want[b.Function] = groupPendingByKadm(b.Topic, c.topics[b.Topic], ends, starts, commits)
	}
	for _, b := range bindings {
		if b.IsShare() {
			want[b.Function] = shareTruth(t, c.adm, c.Ctx(), b.ShareGroup, b.Topic)
		}
	}
	return want
}

// groupPendingByKadm is a consumer-group binding's pending value over the
// first partitions of topic, from kadm's answers, as the lag rules state it
// for a group with commits or offset_reset earliest.
func groupPendingByKadm(topic string, partitions int32, ends, starts kadm.ListedOffsets, commits kadm.OffsetResponses) int64 {
	var pending int64
	for p := range partitions {
		end, start := ends[topic][p].Offset, starts[topic][p].Offset
		commit, ok := commits.Lookup(topic, p)
		// A commit beyond the end is reset by the consumer: no commit.
		if ok && commit.At >= 0 && commit.At <= end {
			pending += end - max(commit.At, start)
		} else {
			pending += end - start
		}
	}
	return pending
}

func runRandomFaults(t *testing.T, rng *rand.Rand, tally *faultTally) {
	c := newFaultyCluster(t, rng)
	var bindings []BindingConfig
	for i, topic := range c.topicNames {
		for _, group := range []string{c.groups[i], c.groups[(i+1)%len(c.groups)]} {
			bindings = append(bindings, BindingConfig{Topic: topic, ConsumerGroup: group, Function: topic + "-" + group})
		}
		share := c.shareGroups[i%len(c.shareGroups)]
		bindings = append(bindings, BindingConfig{Topic: topic, ShareGroup: share, Function: topic + "-" + share})
	}
	s, _ := startScraper(t, c.Kfake.ListenAddrs(), OffsetResetEarliest, bindings...)

	for round := range faultRounds {
		c.change()
		faults := c.injectFaults()
		ctx, cancel := context.WithTimeout(t.Context(), faultScrapeTimeout)
		md, scrapeErr := s.scrape(ctx)
		cancel()
		c.endFaults()
		pts := pointsByFunction(t, md)
		want := c.expectedPending(bindings)
		for _, b := range bindings {
			if !pts.has(pendingName, b.Function) {
				tally.absent.Add(1)
				if assert.Error(t, scrapeErr, "round %d (%v): %s has no point and the scrape no error", round, faults, b) {
					assert.ErrorContains(t, scrapeErr, "binding "+b.String(), "round %d (%v)", round, faults)
				}
				continue
			}
			tally.compared.Add(1)
			if b.IsShare() {
				tally.shareCompared.Add(1)
			}
			assert.Equal(t, want[b.Function], pts.intValue(t, pendingName, b.Function), "round %d (%v): pending of %s", round, faults, b)
		}
	}
}
