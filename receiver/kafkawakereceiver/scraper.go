package kafkawakereceiver // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver"

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver"
	"go.uber.org/zap"

	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/health"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/kafkaclient"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/kafkaread"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/lag"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/offset"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/pendingage"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/residue"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/scaling"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/watch"
)

// kafkaScraper observes the bindings: one observation reads Kafka, settles
// the read_committed residue, computes each binding's lag, ages its pending
// messages and reports, in that order (docs/rules.md, "Glossary").
type kafkaScraper struct {
	// mu serializes observations: scrapes and early reports share the
	// bindings' memories. Only Observe and scrape take it.
	mu     sync.Mutex
	cfg    *Config
	logger *zap.Logger
	now    func() time.Time
	out    *reporter

	// memories holds one bindingMemory per binding, in configuration order.
	memories []bindingMemory
	// topics holds one topicMemory per topic read.
	topics map[string]*topicMemory
	// policies holds each binding's desired-replicas rule; nil when the
	// binding has no target_pending_per_replica.
	policies []*scaling.Policy
	// allBindings lists every binding index.
	allBindings []int
	// scope is what a scrape reads: the topics and groups of the bindings
	// this replica observes.
	scope readScope
	// observeAll is set when this replica observes every binding: without
	// coordination, or with coordination.report: all.
	observeAll bool
	// observations counts observations, to order the watch's sights.
	observations uint64
	// groupKinds is the kind each group was last described as; describing
	// members is skipped when no metric that needs them is on.
	groupKinds  map[string]kafkaread.GroupKind
	wantMembers bool

	// Set at start, once the client exists.
	client *kgo.Client
	reader *kafkaread.Reader
	// fetcher is nil unless a rule fetches records (read_committed or the
	// pending age's fetch method).
	fetcher kafkaread.Fetcher
	// ager is nil when the pending age is off.
	ager *pendingage.Ager
	ownership
	// watcher, when the watch is on, receives the sights of every
	// observation.
	watcher *watch.Watcher
}

// readScope is the topics and groups an observation reads, once each.
type readScope struct {
	topics      []string
	groups      []string
	shareGroups []string
}

func newKafkaScraper(cfg *Config, set receiver.Settings) *kafkaScraper {
	s := &kafkaScraper{
		cfg:        cfg,
		logger:     set.Logger,
		now:        time.Now,
		out:        newReporter(cfg, set),
		memories:   make([]bindingMemory, len(cfg.Bindings)),
		topics:     map[string]*topicMemory{},
		groupKinds: map[string]kafkaread.GroupKind{},
		wantMembers: cfg.Metrics.SlimfaaskafkaGroupMembers.Enabled || cfg.Metrics.SlimfaaskafkaBindingStatus.Enabled ||
			cfg.Metrics.SlimfaaskafkaStalledPartitions.Enabled,
	}
	// With coordination a replica owns nothing until the group assigns it
	// bindings; each one it is assigned then moves in. With report: all it
	// observes every binding from the start all the same.
	coordinated := cfg.Coordination.HasValue()
	s.policies = make([]*scaling.Policy, len(cfg.Bindings))
	for i := range cfg.Bindings {
		if sc := cfg.scalingFor(i); sc.TargetPendingPerReplica != nil {
			p := sc.policy()
			s.policies[i] = &p
		}
		s.memories[i] = newBindingMemory(cfg, i)
		if b := cfg.Bindings[i]; b.IsShare() {
			// A binding says what its group is; describes need not learn it.
			s.groupKinds[b.Group()] = kafkaread.KindShare
		}
		s.memories[i].inShare = !coordinated
		s.allBindings = append(s.allBindings, i)
	}
	if coordinated {
		s.shareChanged = make(chan struct{}, 1)
	}
	s.observeAll = !coordinated || cfg.Coordination.Get().reportsAll()
	if s.observeAll {
		s.setReadScope(s.allBindings)
	}
	return s
}

// setReadScope makes scrapes read the topics and groups of the given
// bindings.
func (s *kafkaScraper) setReadScope(indexes []int) {
	s.scope = scopeOf(s.cfg.Bindings, indexes)
}

// scopeOf lists, once each, the topics and groups of the given bindings: two
// bindings sharing a topic or a group read it once.
func scopeOf(bindings []BindingConfig, indexes []int) readScope {
	var scope readScope
	seenTopics, seenGroups := map[string]bool{}, map[string]bool{}
	for _, i := range indexes {
		b := bindings[i]
		if !seenTopics[b.Topic] {
			seenTopics[b.Topic] = true
			scope.topics = append(scope.topics, b.Topic)
		}
		if seenGroups[b.Group()] {
			continue
		}
		seenGroups[b.Group()] = true
		if b.IsShare() {
			scope.shareGroups = append(scope.shareGroups, b.Group())
		} else {
			scope.groups = append(scope.groups, b.Group())
		}
	}
	return scope
}

// start creates the scrapes' Kafka client, and with it the rules that read
// through it. The client connects lazily, so a broker that is down at start
// shows up as scrape errors, not a failed start.
func (s *kafkaScraper) start(ctx context.Context, host component.Host) error {
	client, err := kafkaclient.New(ctx, &s.cfg.ClientConfig, host, "the scrapes'")
	if err != nil {
		return err
	}
	s.client = client
	s.reader = kafkaread.NewReader(client, kafkaread.ReaderConfig{
		ReadCommitted: s.cfg.readCommitted(),
		UsesSASL:      s.cfg.Authentication.SASL != nil,
		AskMovedAgain: s.cfg.Metadata.Retry.Max > 0,
	})
	ageOn := s.cfg.PendingAge.Method != PendingAgeNone && s.cfg.Metrics.SlimfaaskafkaPendingAge.Enabled
	fetchAges := ageOn && s.cfg.PendingAge.Method == PendingAgeFetch
	if s.cfg.readCommitted() || fetchAges {
		s.fetcher = kafkaread.ClientFetcher{Client: client}
	}
	if ageOn {
		s.ager = pendingage.New(fetchAges, s.cfg.readCommitted(), s.fetcher, s.logger)
	}
	s.startCoordination(client)
	return nil
}

func (s *kafkaScraper) shutdown(context.Context) error {
	s.stopCoordination()
	if s.client != nil {
		s.client.Close()
	}
	return nil
}

// scrape observes every binding this replica observes: all of them, or with
// report: owned those it owns.
func (s *kafkaScraper) scrape(ctx context.Context) (pmetric.Metrics, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	observed, _ := s.refreshShare()
	if len(observed) == 0 {
		s.updateWatch()
		return pmetric.NewMetrics(), nil
	}
	md, _, err := s.observe(ctx, observed, s.scope)
	return md, err
}

// Observe observes, between scrapes, the bindings pick chooses; pick runs
// under the scraper's lock, so what it reads of the share is current. It
// reports whether every chosen binding was read in full.
func (s *kafkaScraper) Observe(ctx context.Context, pick func() []int) (md pmetric.Metrics, allRead bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	indexes := pick()
	if len(indexes) == 0 {
		return pmetric.NewMetrics(), true, nil
	}
	return s.observe(ctx, indexes, scopeOf(s.cfg.Bindings, indexes))
}

// bindingRead is one binding's part of an observation, from the read to the
// report.
type bindingRead struct {
	index int
	kafkaread.BindingRead
	// err is set when the binding could not be read in full: it is
	// reported as an error, never as a value.
	err error
	// listed are the partitions as Kafka listed them, before the residue
	// check closed any range.
	listed offset.Partitions
	// result is its lag, once computed, and produced the messages produced
	// to its topic since its first observation.
	result   lag.Result
	produced int64
	age      pendingage.Age
	// members is what the group's describe said, when members were read.
	members     kafkaread.GroupMembers
	membersRead bool
	// partitions is how many partitions the binding was read on; stalled
	// and losses are what the health rules found: the partitions a live
	// consumer does not move on, and the messages deleted unread.
	partitions int
	stalled    int
	losses     []health.Loss
	// sight is what the watch is to poll for the binding.
	sight watch.Sight
}

// knownMembers is the group's member count, and whether it is known.
func (r *bindingRead) knownMembers() (int, bool) {
	return r.members.Members, r.membersRead && r.members.Err == nil
}

// observe reads, settles, computes, ages and reports the given bindings, in
// increasing order, reading the topics and groups of scope. Callers hold
// s.mu.
func (s *kafkaScraper) observe(ctx context.Context, indexes []int, scope readScope) (pmetric.Metrics, bool, error) {
	now := s.now()
	s.observations++
	var members map[string]kafkaread.GroupMembers
	var wg sync.WaitGroup
	if s.wantMembers {
		kinds := make(map[string]kafkaread.GroupKind, len(scope.groups)+len(scope.shareGroups))
		for _, g := range slices.Concat(scope.groups, scope.shareGroups) {
			kinds[g] = s.groupKinds[g]
		}
		wg.Go(func() { members = s.reader.Members(ctx, kinds) })
	}
	s.refreshShareResets(ctx, now, indexes)
	snapshot := s.reader.Read(ctx, kafkaread.Query{
		Topics: scope.topics, Groups: scope.groups, ShareGroups: scope.shareGroups,
		Since: s.sinceQueries(now, indexes),
	})
	wg.Wait()
	for g, m := range members {
		if m.Err == nil {
			s.groupKinds[g] = m.Kind
		}
	}
	reads := s.readBindings(now, snapshot, indexes)
	for n := range reads {
		reads[n].members, reads[n].membersRead = members[s.cfg.Bindings[reads[n].index].Group()], members != nil
	}
	s.settle(ctx, snapshot.Layout, reads)
	s.compute(now, snapshot, reads)
	s.age(ctx, now, snapshot.Layout, reads)
	// The report writes figures, not offsets: the partitions' lists, and
	// the pending ranges unless it writes them per partition, can go before
	// the points are built (at 10,000 bindings of 100 partitions, about
	// 30 MB of lists, 30 MB of ranges and 100 MB of points).
	for n := range reads {
		reads[n].Partitions, reads[n].listed = offset.Partitions{}, offset.Partitions{}
		if !s.out.perPartition {
			reads[n].result.Ranges = nil
		}
	}
	return s.report(now, reads)
}

// readBindings assembles each binding's offsets from the snapshot.
func (s *kafkaScraper) readBindings(now time.Time, snapshot kafkaread.Snapshot, indexes []int) []bindingRead {
	reads := make([]bindingRead, len(indexes))
	for n, i := range indexes {
		b := s.cfg.Bindings[i]
		reads[n].index = i
		if b.IsShare() {
			reads[n].BindingRead, reads[n].err = s.readShareBinding(now, snapshot, i)
		} else {
			reads[n].BindingRead, reads[n].err = snapshot.Binding(b.Topic, b.Group())
		}
		reads[n].listed = reads[n].Partitions
	}
	return reads
}

// settle closes, with read_committed, the pending ranges proven to hold only
// transaction markers. Bindings not read in full, or whose commits are
// unreadable, keep their residue memory untouched.
func (s *kafkaScraper) settle(ctx context.Context, layout kafkaread.Layout, reads []bindingRead) {
	if !s.cfg.readCommitted() {
		return
	}
	var settled []residue.Binding
	var at []int
	for n, r := range reads {
		// A share group's lag is the broker's count of records to
		// acknowledge, which the share group's own isolation already set.
		if r.err == nil && r.CommitsErr == nil && !s.cfg.Bindings[r.index].IsShare() {
			settled = append(settled, residue.Binding{Topic: s.cfg.Bindings[r.index].Topic, Memory: s.memories[r.index].residue, Partitions: r.Partitions})
			at = append(at, n)
		}
	}
	residue.Settle(ctx, s.fetcher, layout, settled)
	for k, n := range at {
		reads[n].Partitions = settled[k].Partitions
	}
}

// compute applies the lag, production and health rules to every binding
// read in full, adds the counts to its rate window, and works out what the
// watch is to poll for it.
func (s *kafkaScraper) compute(now time.Time, snapshot kafkaread.Snapshot, reads []bindingRead) {
	var ranges rangeBlocks
	for n := range reads {
		r := &reads[n]
		mem := &s.memories[r.index]
		b := s.cfg.Bindings[r.index]
		switch {
		case r.err != nil:
			continue
		case r.CommitsErr != nil:
			r.result = mem.lag.ObserveProduced(r.Partitions)
		default:
			r.result = mem.lag.Observe(now, r.Partitions, s.resetOf(r.index), ranges.room(r.Partitions.Len()))
		}
		r.partitions = r.Partitions.Len()
		topic, readFirst := s.observeTopic(b.Topic, snapshot.TopicID(b.Topic), r.listed)
		r.produced = mem.produced.Since(topic.producedTotal)
		mem.rates.Add(now, r.produced, r.result.Consumed)
		if r.CommitsErr == nil {
			members, membersKnown := r.knownMembers()
			r.stalled = mem.stalls.Observe(now, s.cfg.Health.StallAfter, r.listed, r.result.Ranges, members, membersKnown)
			_, r.losses = mem.losses.Observe(r.listed)
		}
		if s.watcher != nil {
			r.sight = watch.SightOf(s.observations, b.Topic, snapshot, r.Partitions, r.result.Pending)
		}
		// The age step reads a topic's high watermarks once per
		// observation, from the first binding of the topic it is given:
		// only the binding that read the topic first keeps its lists.
		if s.ager != nil && readFirst {
			continue
		}
		// Released binding by binding, the lists make room for the ranges
		// computed from them: at 10,000 bindings of 100 partitions both are
		// about 30 MB, and the step's peak holds one of them, not both.
		r.Partitions, r.listed = offset.Partitions{}, offset.Partitions{}
	}
}

// observeTopic returns the topic's memory, observed from the first binding
// of the topic read in full in this observation (every binding of a topic
// lists the same partitions), and whether that binding is this one.
func (s *kafkaScraper) observeTopic(topic string, id [16]byte, listed offset.Partitions) (*topicMemory, bool) {
	t := s.topics[topic]
	if t == nil {
		t = &topicMemory{}
		s.topics[topic] = t
	}
	if t.observation == s.observations {
		return t, false
	}
	t.observation = s.observations
	t.producedTotal = t.produced.Observe(id, listed)
	return t, true
}

// rangeBlocks hands out room for each binding's pending ranges from blocks
// of one observation, so that the ranges grow as the bindings' lists are
// released instead of being allocated all at once beside them.
type rangeBlocks struct {
	block []offset.PartitionRange
}

// rangeBlockSize is how many ranges a block holds (1 MiB): one block for
// 1,000 bindings of 12 partitions, about 30 for 10,000 of 100.
const rangeBlockSize = 1 << 15

// room returns an empty slice with room for n ranges, which nothing else
// is handed.
func (rb *rangeBlocks) room(n int) []offset.PartitionRange {
	if cap(rb.block)-len(rb.block) < n {
		rb.block = make([]offset.PartitionRange, 0, max(n, rangeBlockSize))
	}
	at := len(rb.block)
	rb.block = rb.block[:at+n]
	return rb.block[at : at : at+n]
}

// age dates the oldest pending message of every binding read in full.
func (s *kafkaScraper) age(ctx context.Context, now time.Time, layout kafkaread.Layout, reads []bindingRead) {
	if s.ager == nil {
		return
	}
	var aged []pendingage.Binding
	var at []int
	for n, r := range reads {
		if r.err != nil {
			continue
		}
		// A binding whose commits are unreadable has no ranges to date;
		// its high watermarks still feed the topic's history.
		aged = append(aged, pendingage.Binding{Topic: s.cfg.Bindings[r.index].Topic, Partitions: r.Partitions, Ranges: r.result.Ranges, Aged: r.CommitsErr == nil})
		at = append(at, n)
	}
	for k, age := range s.ager.Ages(ctx, now, layout, aged) {
		reads[at[k]].age = age
	}
}
