// Package kafkaread reads what the receiver observes from Kafka without
// consuming: topic layouts, end and start offsets and committed offsets, with
// batched requests, and the consumer-less Fetch requests of the residue
// check, the pending age and the watch. Its errors name the topic, group or
// broker and say what to grant or fix.
package kafkaread // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/kafkaread"

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/offset"
)

// Snapshot is everything one scrape read from Kafka, for all bindings.
// A topic either has an error in topicErrs or is listed; a group has an
// entry in groups.
type Snapshot struct {
	Layout    Layout
	topicErrs map[string]error // topics that cannot be read at all
	listed    map[string]*listedTopic
	groups    map[string]groupOffsets
	shares    map[string]shareOffsets
	// since holds, per timestamp asked for, the first offset of each
	// partition at or after it.
	since map[int64]listedOffsets
}

// Query is what one observation reads.
type Query struct {
	Topics []string
	// Groups are consumer groups, read with OffsetFetch; ShareGroups are
	// share groups, read with DescribeShareGroupOffsets.
	Groups, ShareGroups []string
	// Since lists the timestamps (Unix milliseconds) whose first offsets
	// are needed on every partition of the topics, for the share groups
	// that reset by_duration.
	Since []TopicsSince
}

// TopicsSince asks for the first offset at or after Millis on every
// partition of Topics.
type TopicsSince struct {
	Millis int64
	Topics []string
}

// listedTopic is what one scrape listed for one topic's partitions, in the
// layout's order. A topic is read by many bindings (10 per topic in the
// benchmark of 10,000 bindings), so its offsets sit in flat slices that each
// binding walks, without a map lookup per partition.
type listedTopic struct {
	partitions   []int32 // sorted
	ends, starts []int64
	errs         []error // nil while every partition was listed
}

func newListedTopic(partitions []int32) *listedTopic {
	return &listedTopic{partitions: partitions, ends: make([]int64, len(partitions)), starts: make([]int64, len(partitions))}
}

// fail marks the i-th partition as not read, for err.
func (t *listedTopic) fail(i int, err error) {
	if t.errs == nil {
		t.errs = make([]error, len(t.partitions))
	}
	t.errs[i] = err
}

func (t *listedTopic) err(i int) error {
	if t.errs == nil {
		return nil
	}
	return t.errs[i]
}

// index is the position of partition p in the topic's list.
func (t *listedTopic) index(p int32) (int, bool) { return partitionIndex(t.partitions, p) }

// partitionIndex is the position of partition p in a topic's sorted list.
func partitionIndex(partitions []int32, p int32) (int, bool) {
	if int(p) < len(partitions) && p >= 0 && partitions[p] == p {
		return int(p), true // partitions are numbered densely from 0
	}
	return slices.BinarySearch(partitions, p)
}

// groupOffsets is what one group's coordinator answered.
type groupOffsets struct {
	// committed holds, per topic, the group's committed offset on each
	// partition, indexed by partition number: offset.NoCommit where the
	// group has none, unanswered where the answer did not list the
	// partition. Eight bytes a partition: a scrape of 10,000 groups of 100
	// partitions holds a million of them.
	committed map[string][]int64
	// failed holds the partitions whose answer is an error, which are rare.
	failed map[offset.TopicPartition]error
	// err is set when the group's offsets could not be read at all.
	err error
	// unauthorized is set when the collector may not describe the group.
	unauthorized error
}

// unanswered marks, in groupOffsets.committed, a partition the group's
// answer did not list.
const unanswered = math.MinInt64

// Reader reads topics and groups with batched requests: one Metadata
// request, OffsetFetch per group coordinator and ListOffsets per partition
// leader for the end offsets and the log starts. The number of requests
// depends on the number of brokers, not on bindings or partitions.
type Reader struct {
	client *kgo.Client
	ReaderConfig
	// layoutReads counts the metadata reads, so that each starts at the
	// next broker.
	layoutReads atomic.Uint64
	// coordinators remembers where each group's offsets were read.
	coordinators coordinatorCache
	// shardedCommits is set while OffsetFetch cannot ask for several groups
	// at once (protocol_version, or a broker, older than Kafka 2.4): every
	// group is then read through the client, which asks one at a time.
	shardedCommits atomic.Bool
}

// ReaderConfig says how a Reader reads.
type ReaderConfig struct {
	// ReadCommitted lists end offsets as the last stable offset, which is
	// where a read_committed consumer stops.
	ReadCommitted bool
	// UsesSASL turns a bare EOF from the brokers into a hint: brokers close
	// the connection when they reject SASL credentials.
	UsesSASL bool
	// AskMovedAgain asks a partition whose leader moved during the scrape
	// again, at the leader a fresh metadata read names.
	AskMovedAgain bool
}

// NewReader reads with client.
func NewReader(client *kgo.Client, cfg ReaderConfig) *Reader {
	r := &Reader{client: client, ReaderConfig: cfg}
	if versions, ok := client.OptValue(kgo.MaxVersions).(*kversion.Versions); ok && versions != nil {
		if v, known := versions.LookupMaxKeyVersion(kmsg.OffsetFetch.Int16()); known && v < firstOffsetFetchForManyGroups {
			r.shardedCommits.Store(true)
		}
	}
	return r
}

// Read reads topics and groups. It runs the group reads beside the partition reads, so a slow group
// coordinator delays only its own groups, and a slow partition leader only
// its own partitions: every request is answered or fails on its own. The
// price is that a commit made while the scrape runs may be read after the
// end offset it went past; that partition then counts 0 instead of the few
// messages produced meanwhile, for one scrape, while its consumer is awake.
func (r *Reader) Read(ctx context.Context, q Query) Snapshot {
	var groupReads map[string]groupOffsets
	var shareReads map[string]shareOffsets
	var wg sync.WaitGroup
	wg.Go(func() { groupReads = r.readGroups(ctx, q.Groups) })
	wg.Go(func() { shareReads = r.readShareGroups(ctx, q.ShareGroups) })
	c := r.readPartitions(ctx, q.Topics, q.Since)
	wg.Wait()
	c.groups, c.shares = groupReads, shareReads
	return c
}

func (r *Reader) readPartitions(ctx context.Context, topics []string, since []TopicsSince) Snapshot {
	c := Snapshot{
		since:     map[int64]listedOffsets{},
		topicErrs: map[string]error{},
		listed:    make(map[string]*listedTopic, len(topics)),
	}
	layout, err := r.readLayout(ctx, topics)
	if err != nil {
		for _, t := range topics {
			c.topicErrs[t] = err
		}
		return c
	}
	c.Layout = layout
	count := 0
	for _, t := range topics {
		count += len(layout.partitions[t])
	}
	listable := make([]offset.TopicPartition, 0, count)
	for _, t := range topics {
		if err := layout.topicErrs[t]; err != nil {
			c.topicErrs[t] = err
			continue
		}
		lt := newListedTopic(layout.partitions[t])
		c.listed[t] = lt
		leaders := layout.leaders[t]
		for i, p := range lt.partitions {
			tp := offset.TopicPartition{Topic: t, Partition: p}
			if leaders[i] < 0 {
				lt.fail(i, layout.leaderless[tp])
				continue
			}
			listable = append(listable, tp)
		}
	}
	if len(listable) == 0 {
		return c
	}
	endIsolation := IsolationCode(r.ReadCommitted)
	var ends, starts listedOffsets
	var wg sync.WaitGroup
	wg.Go(func() { ends = r.listOffsets(ctx, layout, listable, latestOffset, endIsolation, "end offset") })
	wg.Go(func() { starts = r.listOffsets(ctx, layout, listable, earliestOffset, 0, "log start offset") })
	sinceLists := make([]listedOffsets, len(since))
	for i, ts := range since {
		sinceLists[i] = listedOffsets{what: "first offset after a time"}
		asked := partitionsOf(listable, ts.Topics)
		if len(asked) == 0 {
			continue
		}
		wg.Go(func() {
			sinceLists[i] = r.listOffsets(ctx, layout, asked, ts.Millis, 0, "first offset after "+time.UnixMilli(ts.Millis).UTC().Format(time.RFC3339))
		})
	}
	wg.Wait()
	for _, listed := range append([]listedOffsets{ends, starts}, sinceLists...) {
		layout.follow(listed)
	}
	for i, ts := range since {
		c.since[ts.Millis] = sinceLists[i]
	}
	for t, lt := range c.listed {
		topicEnds, topicStarts := ends.offsets[t], starts.offsets[t]
		for i, p := range lt.partitions {
			if lt.err(i) != nil {
				continue
			}
			tp := offset.TopicPartition{Topic: t, Partition: p}
			end, endErr := ends.lookup(topicEnds, tp)
			start, startErr := starts.lookup(topicStarts, tp)
			if err := cmp.Or(endErr, startErr); err != nil {
				lt.fail(i, err)
				continue
			}
			lt.ends[i], lt.starts[i] = end, start
		}
	}
	return c
}

// runLength counts the partitions of topic at the start of the list: the
// reader lists a topic's partitions together, so this is all of them.
func runLength(partitions []offset.TopicPartition, topic string) int {
	n := 0
	for n < len(partitions) && partitions[n].Topic == topic {
		n++
	}
	return n
}

// partitionsOf keeps the partitions of the given topics.
func partitionsOf(partitions []offset.TopicPartition, topics []string) []offset.TopicPartition {
	wanted := make(map[string]bool, len(topics))
	for _, t := range topics {
		wanted[t] = true
	}
	var out []offset.TopicPartition
	for _, tp := range partitions {
		if wanted[tp.Topic] {
			out = append(out, tp)
		}
	}
	return out
}

// Layout is where the watched topics' partitions live, as the metadata
// of this scrape says.
type Layout struct {
	partitions map[string][]int32 // sorted
	// leaders holds, per topic, the leader of each partition in the order
	// of partitions, -1 for one without a leader (its error is in
	// leaderless): the reader looks up every partition's leader on every
	// scrape, by position rather than by hashing a topic-partition.
	leaders    map[string][]int32
	ids        map[string][16]byte
	names      map[[16]byte]string
	topicErrs  map[string]error
	leaderless map[offset.TopicPartition]error
	// brokers names each broker of the metadata for error messages.
	brokers map[int32]string
}

// describeBroker names a broker of the layout for error messages.
func (l Layout) describeBroker(id int32) string {
	if name, ok := l.brokers[id]; ok {
		return name
	}
	return fmt.Sprintf("broker %d", id)
}

// metadataAttempts bounds how long one broker may hold the metadata request:
// a broker that does not answer within its share of the scrape timeout, or
// cannot be reached, is left for the next one, so a single slow or stopped
// broker does not take every binding dark.
const metadataAttempts = 3

// readLayout asks for the watched topics' metadata on every scrape, so that
// added partitions and topics created after start are counted at once. It
// asks a broker directly rather than through the client, which would also
// copy the answer into its metadata cache: the reader routes its requests by
// the layout itself.
func (r *Reader) readLayout(ctx context.Context, topics []string) (Layout, error) {
	brokers := r.client.DiscoveredBrokers()
	if len(brokers) == 0 {
		brokers = r.client.SeedBrokers()
	}
	if len(brokers) == 0 {
		return Layout{}, errors.New("reading topic metadata: the client knows no broker")
	}
	first := int(r.layoutReads.Add(1))
	var err error
	for attempt := range metadataAttempts {
		attemptCtx, cancel := ctx, context.CancelFunc(func() {})
		if deadline, ok := ctx.Deadline(); ok && attempt < metadataAttempts-1 {
			attemptCtx, cancel = context.WithTimeout(ctx, time.Until(deadline)/time.Duration(metadataAttempts-attempt))
		}
		// A new request each time: the client may still be writing an
		// abandoned one.
		req := kmsg.NewPtrMetadataRequest()
		for _, t := range topics {
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(t)
			req.Topics = append(req.Topics, rt)
		}
		var resp kmsg.Response
		resp, err = brokers[(first+attempt)%len(brokers)].Request(attemptCtx, req)
		cancel()
		if err == nil {
			return layoutOf(resp.(*kmsg.MetadataResponse)), nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return Layout{}, fmt.Errorf("reading topic metadata: %w", r.explain(err))
}

// layoutOf extracts the watched topics' partitions and leaders. Topics that
// are missing or not authorized, and partitions without a leader, carry
// their own error so that the others are still read.
func layoutOf(resp *kmsg.MetadataResponse) Layout {
	l := Layout{
		partitions: make(map[string][]int32, len(resp.Topics)),
		leaders:    make(map[string][]int32, len(resp.Topics)),
		ids:        make(map[string][16]byte, len(resp.Topics)),
		names:      make(map[[16]byte]string, len(resp.Topics)),
		topicErrs:  map[string]error{},
		leaderless: map[offset.TopicPartition]error{},
		brokers:    make(map[int32]string, len(resp.Brokers)),
	}
	for _, b := range resp.Brokers {
		l.brokers[b.NodeID] = describeBroker(kgo.BrokerMetadata{NodeID: b.NodeID, Host: b.Host, Port: b.Port})
	}
	for _, t := range resp.Topics {
		if t.Topic == nil {
			continue
		}
		topic := *t.Topic
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			l.topicErrs[topic] = topicError(topic, err)
			continue
		}
		l.ids[topic] = t.TopicID
		l.names[t.TopicID] = topic
		partitions, leaders := make([]int32, len(t.Partitions)), make([]int32, len(t.Partitions))
		for i, p := range t.Partitions {
			tp := offset.TopicPartition{Topic: topic, Partition: p.Partition}
			partitions[i], leaders[i] = p.Partition, -1
			// REPLICA_NOT_AVAILABLE only says a follower is down; the
			// leader still answers.
			var err error
			if p.ErrorCode != 0 && p.ErrorCode != kerr.ReplicaNotAvailable.Code {
				err = kerr.ErrorForCode(p.ErrorCode)
			}
			switch {
			case err != nil:
				l.leaderless[tp] = fmt.Errorf("partition %d of topic %q has no usable leader; it is read again once Kafka elects one: %w", p.Partition, topic, err)
			case p.Leader < 0:
				l.leaderless[tp] = fmt.Errorf("partition %d of topic %q has no leader; it is read again once Kafka elects one", p.Partition, topic)
			default:
				leaders[i] = p.Leader
			}
		}
		if !slices.IsSorted(partitions) {
			sort.Sort(partitionLeaders{partitions, leaders})
		}
		l.partitions[topic], l.leaders[topic] = partitions, leaders
	}
	return l
}

// partitionLeaders sorts a topic's partitions with their leaders.
type partitionLeaders struct{ partitions, leaders []int32 }

func (pl partitionLeaders) Len() int           { return len(pl.partitions) }
func (pl partitionLeaders) Less(i, j int) bool { return pl.partitions[i] < pl.partitions[j] }
func (pl partitionLeaders) Swap(i, j int) {
	pl.partitions[i], pl.partitions[j] = pl.partitions[j], pl.partitions[i]
	pl.leaders[i], pl.leaders[j] = pl.leaders[j], pl.leaders[i]
}

// sentTo is a request sent to one broker, and its answer or error.
type sentTo[Req kmsg.Request, Resp kmsg.Response] struct {
	broker int32
	req    Req
	resp   Resp
	err    error
}

// sendEach sends every request to its broker, all at once, and waits for
// the answers. Each is retried while its broker cannot be reached, as a
// rolling restart makes it for a moment.
func sendEach[Req kmsg.Request, Resp kmsg.Response](ctx context.Context, client *kgo.Client, sent []sentTo[Req, Resp]) {
	var wg sync.WaitGroup
	for i := range sent {
		s := &sent[i]
		wg.Go(func() {
			resp, err := client.Broker(int(s.broker)).RetriableRequest(ctx, s.req)
			if err == nil {
				s.resp = resp.(Resp)
			}
			s.err = err
		})
	}
	wg.Wait()
}

// describeBroker names the broker a request went to, for error messages.
func describeBroker(meta kgo.BrokerMetadata) string {
	if meta.NodeID < 0 {
		return "no broker (the request could not be routed)"
	}
	return fmt.Sprintf("broker %d (%s)", meta.NodeID, net.JoinHostPort(meta.Host, strconv.Itoa(int(meta.Port))))
}

const (
	latestOffset   int64 = -1
	earliestOffset int64 = -2
)

// listedOffsets is one ListOffsets pass: an offset or an error per partition.
type listedOffsets struct {
	what string
	// offsets holds, per topic, the offset of each partition that came back.
	offsets map[string]offset.Table
	errs    map[offset.TopicPartition]error
	// moved is the fresh layout read for the partitions whose leader
	// moved during the scrape, when any did; followed names those it
	// gave a leader, which were asked again.
	moved    Layout
	followed []offset.TopicPartition
}

// follow records in l the new leaders that listed found for the partitions
// whose leader moved during the scrape, so that what polls by the
// scrape's layout (the watch) asks the new leader from this scrape on.
// Callers own l: the reader builds one layout per scrape.
func (l Layout) follow(listed listedOffsets) {
	for _, tp := range listed.followed {
		leader, ok := listed.moved.Leader(tp)
		i, found := partitionIndex(l.partitions[tp.Topic], tp.Partition)
		if !ok || !found {
			continue
		}
		l.leaders[tp.Topic][i] = leader
		if _, named := l.brokers[leader]; !named {
			if name, ok := listed.moved.brokers[leader]; ok {
				l.brokers[leader] = name
			}
		}
	}
}

func (l listedOffsets) get(tp offset.TopicPartition) (int64, error) {
	return l.lookup(l.offsets[tp.Topic], tp)
}

// lookup reads tp in its topic's offsets, listed: a topic's partitions are
// looked up together, with one map lookup for the topic.
func (l listedOffsets) lookup(listed offset.Table, tp offset.TopicPartition) (int64, error) {
	if err := l.errs[tp]; err != nil {
		return 0, err
	}
	o, ok := listed.Get(tp.Partition)
	if !ok {
		return 0, fmt.Errorf("no %s returned for partition %d of topic %q", l.what, tp.Partition, tp.Topic)
	}
	return o, nil
}

// listOffsets sends one ListOffsets request per partition leader, routed
// by the scrape's own layout: going through the client's metadata cache
// would copy the whole metadata into it on every scrape (at 100,000
// partitions, the largest allocation of a scrape). A leader that fails or
// passes the deadline fails only its own partitions, and the error names it.
// Partitions whose leader moved are asked again once, at the leaders a
// fresh layout names, unless retries are off.
func (r *Reader) listOffsets(ctx context.Context, layout Layout, partitions []offset.TopicPartition, timestamp int64, isolation int8, what string) listedOffsets {
	out := listedOffsets{what: what, offsets: map[string]offset.Table{}, errs: map[offset.TopicPartition]error{}}
	// Room for every partition asked, so that the answers fill each topic's
	// table without growing it. The reader lists a topic's partitions
	// together: each run of one topic's partitions costs its lookups once.
	for k := 0; k < len(partitions); {
		topic := partitions[k].Topic
		run := partitions[k : k+runLength(partitions[k:], topic)]
		k += len(run)
		listed := out.offsets[topic]
		listed.Grow(int(run[len(run)-1].Partition) + 1)
		out.offsets[topic] = listed
	}
	moved := r.listAtLeaders(ctx, layout, partitions, timestamp, isolation, &out)
	if len(moved) == 0 || !r.AskMovedAgain || ctx.Err() != nil {
		return out
	}
	topics := make([]string, 0, 1)
	for _, tp := range moved {
		if len(topics) == 0 || topics[len(topics)-1] != tp.Topic {
			topics = append(topics, tp.Topic)
		}
	}
	fresh, err := r.readLayout(ctx, topics)
	if err != nil {
		return out // the first answers' errors stand
	}
	var again []offset.TopicPartition
	for _, tp := range moved {
		if _, ok := fresh.Leader(tp); ok {
			delete(out.errs, tp)
			again = append(again, tp)
		}
	}
	r.listAtLeaders(ctx, fresh, again, timestamp, isolation, &out)
	// The fresh metadata is newer than the scrape's, whatever its leaders
	// answered.
	out.moved, out.followed = fresh, again
	return out
}

// listAtLeaders asks each partition's leader in layout for its offset at
// timestamp, into out, and returns the partitions whose leader answered
// that it no longer leads them, in the order asked.
func (r *Reader) listAtLeaders(ctx context.Context, layout Layout, partitions []offset.TopicPartition, timestamp int64, isolation int8, out *listedOffsets) []offset.TopicPartition {
	byLeader := map[int32]*kmsg.ListOffsetsRequest{}
	var topicPartitions, topicLeaders []int32
	for i, tp := range partitions {
		// The reader lists a topic's partitions together: its slices are
		// looked up once per run.
		if i == 0 || tp.Topic != partitions[i-1].Topic {
			topicPartitions, topicLeaders = layout.partitions[tp.Topic], layout.leaders[tp.Topic]
		}
		leader, ok := leaderAt(topicPartitions, topicLeaders, tp.Partition)
		if !ok {
			out.errs[tp] = fmt.Errorf("partition %d of topic %q has no leader in the metadata", tp.Partition, tp.Topic)
			continue
		}
		req := byLeader[leader]
		if req == nil {
			req = kmsg.NewPtrListOffsetsRequest()
			req.ReplicaID = -1
			req.IsolationLevel = isolation
			byLeader[leader] = req
		}
		if n := len(req.Topics); n == 0 || req.Topics[n-1].Topic != tp.Topic {
			rt := kmsg.NewListOffsetsRequestTopic()
			rt.Topic = tp.Topic
			req.Topics = append(req.Topics, rt)
		}
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition = tp.Partition
		rp.Timestamp = timestamp
		rp.CurrentLeaderEpoch = -1
		rt := &req.Topics[len(req.Topics)-1]
		rt.Partitions = append(rt.Partitions, rp)
	}
	answers := make([]sentTo[*kmsg.ListOffsetsRequest, *kmsg.ListOffsetsResponse], 0, len(byLeader))
	for leader, req := range byLeader {
		answers = append(answers, sentTo[*kmsg.ListOffsetsRequest, *kmsg.ListOffsetsResponse]{broker: leader, req: req})
	}
	sendEach(ctx, r.client, answers)
	var moved []offset.TopicPartition
	for _, a := range answers {
		broker := layout.describeBroker(a.broker)
		if a.err != nil {
			for _, t := range a.req.Topics {
				for _, p := range t.Partitions {
					tp := offset.TopicPartition{Topic: t.Topic, Partition: p.Partition}
					out.errs[tp] = partitionListError(tp, out.what, broker, r.explain(a.err))
				}
			}
			continue
		}
		for _, t := range a.resp.Topics {
			listed := out.offsets[t.Topic]
			for _, p := range t.Partitions {
				tp := offset.TopicPartition{Topic: t.Topic, Partition: p.Partition}
				if p.ErrorCode != 0 { // most answers: ErrorForCode is a map lookup
					err := kerr.ErrorForCode(p.ErrorCode)
					if leadershipMoved(err) {
						moved = append(moved, tp)
					}
					out.errs[tp] = partitionListError(tp, out.what, broker, err)
					continue
				}
				listed.Set(p.Partition, p.Offset)
			}
			out.offsets[t.Topic] = listed
		}
	}
	slices.SortFunc(moved, func(a, b offset.TopicPartition) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	return moved
}

// leadershipMoved tells whether a partition's answer says to ask its new
// leader: the broker no longer leads it, or is still taking over.
func leadershipMoved(err error) bool {
	for _, moved := range []error{kerr.NotLeaderForPartition, kerr.LeaderNotAvailable, kerr.FencedLeaderEpoch, kerr.UnknownLeaderEpoch, kerr.OffsetNotAvailable, kerr.UnknownTopicOrPartition} {
		if errors.Is(err, moved) {
			return true
		}
	}
	return false
}

func partitionListError(tp offset.TopicPartition, what, broker string, err error) error {
	switch {
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		return fmt.Errorf("listing the %s of partition %d of topic %q on %s: the broker does not know it (topic deleted, or leadership moved): %w", what, tp.Partition, tp.Topic, broker, err)
	case errors.Is(err, kerr.TopicAuthorizationFailed):
		return topicError(tp.Topic, err)
	default:
		return fmt.Errorf("listing the %s of partition %d of topic %q on %s: %w", what, tp.Partition, tp.Topic, broker, err)
	}
}

// readGroupsSharded sends one OffsetFetch per group coordinator for groups
// through the client, which finds the coordinators, retries what is
// retriable and finds a moved coordinator again.
func (r *Reader) readGroupsSharded(ctx context.Context, groups []string, out map[string]groupOffsets) {
	req := kmsg.NewPtrOffsetFetchRequest()
	for _, g := range groups {
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group = g
		req.Groups = append(req.Groups, rg)
	}
	for _, shard := range r.client.RequestSharded(ctx, req) {
		coordinator := describeCoordinator(shard.Meta)
		if shard.Err != nil {
			for _, g := range shard.Req.(*kmsg.OffsetFetchRequest).Groups {
				out[g.Group] = groupFailure(g.Group, coordinator, r.explain(shard.Err))
			}
			continue
		}
		// The client answers every version in the per-group form.
		for _, g := range shard.Resp.(*kmsg.OffsetFetchResponse).Groups {
			out[g.Group] = groupOffsetsOf(g, coordinator)
		}
	}
}

// groupOffsetsOf reads one group's answer.
func groupOffsetsOf(g kmsg.OffsetFetchResponseGroup, coordinator string) groupOffsets {
	if err := kerr.ErrorForCode(g.ErrorCode); err != nil {
		return groupFailure(g.Group, coordinator, err)
	}
	answer := groupOffsets{committed: make(map[string][]int64, len(g.Topics))}
	for _, t := range g.Topics {
		byPartition := answer.committed[t.Topic]
		// One allocation per topic: the answer lists each partition once,
		// numbered densely from 0.
		highest := int32(-1)
		for _, p := range t.Partitions {
			highest = max(highest, p.Partition)
		}
		if n, had := int(highest)+1, len(byPartition); n > had {
			byPartition = slices.Grow(byPartition, n-had)[:n]
			for i := had; i < n; i++ {
				byPartition[i] = unanswered
			}
		}
		for _, p := range t.Partitions {
			if p.Partition < 0 {
				continue
			}
			byPartition[p.Partition] = max(p.Offset, offset.NoCommit)
			if p.ErrorCode != 0 {
				if answer.failed == nil {
					answer.failed = make(map[offset.TopicPartition]error)
				}
				err := kerr.ErrorForCode(p.ErrorCode)
				answer.failed[offset.TopicPartition{Topic: t.Topic, Partition: p.Partition}] = fmt.Errorf("committed offset of group %q on partition %d of topic %q (coordinator %s): %w", g.Group, p.Partition, t.Topic, coordinator, err)
			}
		}
		answer.committed[t.Topic] = byPartition
	}
	return answer
}

// groupFailure classifies a group that has no offsets to show. A group that
// never committed is the normal scale-from-zero case: Apache Kafka answers it
// with -1 offsets, some brokers with GROUP_ID_NOT_FOUND; both mean "no
// commit". A group the collector may not describe is marked unauthorized,
// not failed: its bindings degrade instead of going dark.
func groupFailure(group, coordinator string, err error) groupOffsets {
	switch {
	case errors.Is(err, kerr.GroupIDNotFound):
		return groupOffsets{}
	case errors.Is(err, kerr.GroupAuthorizationFailed):
		return groupOffsets{unauthorized: fmt.Errorf("committed offsets of group %q are not authorized (grant Describe on the group): %w", group, err)}
	default:
		return groupOffsets{err: fmt.Errorf("reading committed offsets of group %q from coordinator %s: %w", group, coordinator, err)}
	}
}

func (r *Reader) explain(err error) error {
	if r.UsesSASL && errors.Is(err, io.EOF) {
		return fmt.Errorf("%w (the broker closed the connection: check the SASL mechanism, username and password)", err)
	}
	return err
}

func topicError(topic string, err error) error {
	switch {
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		return fmt.Errorf("topic %q does not exist (the receiver never creates topics): %w", topic, err)
	case errors.Is(err, kerr.TopicAuthorizationFailed):
		return fmt.Errorf("topic %q is not authorized: grant the collector's principal Describe on it: %w", topic, err)
	default:
		return fmt.Errorf("topic %q: %w", topic, err)
	}
}

// BindingRead is one binding's view of a scrape.
type BindingRead struct {
	Partitions offset.Partitions
	// CommitsErr is set when the group's committed offsets are not
	// authorized: partitions then carry no commits and pending falls back to
	// the messages produced since the previous scrape.
	CommitsErr error
}

// Binding assembles the offsets of one topic as seen by one group. Every
// partition of the topic must have been read: a partial read would be a
// smaller pending value that looks valid, so it is an error naming the
// first partition that failed and why.
func (c Snapshot) Binding(topic, group string) (BindingRead, error) {
	g, ok := c.groups[group]
	groupErr := g.err
	if !ok {
		groupErr = fmt.Errorf("no committed-offsets answer for group %q", group)
	}
	commits := g.committed[topic]
	read, err := c.assemble(topic, groupErr, func(p int32, o offset.Partition) (offset.Partition, error) {
		if int(p) < len(commits) && commits[p] != unanswered {
			o.Committed = commits[p]
			return o, g.failed[offset.TopicPartition{Topic: topic, Partition: p}]
		}
		return o, nil
	})
	if err != nil {
		return BindingRead{}, err
	}
	read.CommitsErr = g.unauthorized
	return read, nil
}

// assemble builds a binding's read of topic: each partition as listed,
// without a position, completed by the group's answer for it. The topic's
// error, then the group's, fail the whole binding; a partition that was not
// read, or that the group's answer fails, fails it too.
func (c Snapshot) assemble(topic string, groupErr error, complete func(int32, offset.Partition) (offset.Partition, error)) (BindingRead, error) {
	if err := c.topicErrs[topic]; err != nil {
		return BindingRead{}, err
	}
	if groupErr != nil {
		return BindingRead{}, groupErr
	}
	lt := c.listed[topic]
	if lt == nil {
		return bindingOf(topic, offset.Partitions{}, nil)
	}
	partitions := offset.NewPartitions(len(lt.partitions))
	var failed []error
	for i, p := range lt.partitions {
		if err := lt.err(i); err != nil {
			failed = append(failed, err)
			continue
		}
		o, err := complete(p, offset.Partition{HighWatermark: lt.ends[i], LogStart: lt.starts[i], Committed: offset.NoCommit})
		if err != nil {
			failed = append(failed, err)
			continue
		}
		partitions.Set(p, o)
	}
	return bindingOf(topic, partitions, failed)
}

// bindingOf is a binding's read when no partition failed, and otherwise an
// error naming the first that did and why.
func bindingOf(topic string, partitions offset.Partitions, failed []error) (BindingRead, error) {
	switch {
	case len(failed) == 1:
		return BindingRead{}, failed[0]
	case len(failed) > 1:
		return BindingRead{}, fmt.Errorf("%w (and %d more of the topic's partitions could not be read)", failed[0], len(failed)-1)
	case partitions.Len() == 0:
		return BindingRead{}, fmt.Errorf("topic %q: no partitions in the metadata", topic)
	}
	return BindingRead{Partitions: partitions}, nil
}

// End is the end offset this snapshot listed for a partition it read.
func (c Snapshot) End(tp offset.TopicPartition) int64 {
	if lt := c.listed[tp.Topic]; lt != nil {
		if i, ok := lt.index(tp.Partition); ok {
			return lt.ends[i]
		}
	}
	return 0
}

// TopicID is the topic's ID in the snapshot's layout.
func (c Snapshot) TopicID(topic string) [16]byte { return c.Layout.TopicID(topic) }

// Leader is the partition's leader in the snapshot's layout.
func (c Snapshot) Leader(tp offset.TopicPartition) (int32, bool) { return c.Layout.Leader(tp) }

// TopicID is the topic's ID in the layout, zero when the topic was not read.
func (l Layout) TopicID(topic string) [16]byte { return l.ids[topic] }

// Leader is the partition's leader broker, and false when it has none.
func (l Layout) Leader(tp offset.TopicPartition) (int32, bool) {
	return leaderAt(l.partitions[tp.Topic], l.leaders[tp.Topic], tp.Partition)
}

// leaderAt is partition p's leader in one topic's layout.
func leaderAt(partitions, leaders []int32, p int32) (int32, bool) {
	i, ok := partitionIndex(partitions, p)
	if !ok || leaders[i] < 0 {
		return 0, false
	}
	return leaders[i], true
}

// IsolationCode is the isolation level of Fetch and ListOffsets requests:
// 1 stops at the last stable offset, as a read_committed consumer does.
func IsolationCode(readCommitted bool) int8 {
	if readCommitted {
		return 1
	}
	return 0
}
