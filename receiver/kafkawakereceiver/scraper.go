package kafkawakereceiver // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver"

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/scraper/scrapererror"
	"go.uber.org/zap"

	schema "github.com/kafkawake/kafkawake/internal/metadata"
)

// bindingsPerEmit bounds the points the generated metrics builder holds at
// once: it compares every new point with all the points recorded since its
// last emit, which is quadratic in the number of bindings (0.8 s for 5,000).
const bindingsPerEmit = 32

// errNotObserved marks the bindings an observation leaves out, so that the
// steps run over every binding (the residue check) leave their state alone.
var errNotObserved = errors.New("binding not part of this observation")

type kafkaScraper struct {
	// mu serializes observations: scrapes and the watch's early reports
	// share the bindings' state.
	mu     sync.Mutex
	cfg    *Config
	logger *zap.Logger
	now    func() time.Time
	mb     *schema.MetricsBuilder
	// resource is every scrape's resource: kafka.cluster.alias when set.
	resource pcommon.Resource

	states         []*bindingState // one per binding, same order as cfg.Bindings
	lastStatusText []string        // per binding, so each cause is logged once

	reader offsetReader
	// residues is nil unless isolation_level is read_committed.
	residues *residueChecker

	// allBindings lists every binding index; owner, when coordination is
	// configured, narrows them to this replica's share, and observed marks
	// the bindings the previous scrape observed.
	allBindings      []int
	owner            bindingOwner
	stopCoordination func()
	observed         []bool
	observedCount    int
	// shareChanged, with coordination, signals that the bindings this
	// replica owns changed.
	shareChanged chan struct{}
	// ages is nil when the pending age is off.
	ages *pendingAger

	// observations counts observations, to order the watch's sights.
	observations uint64
	// onObserved, when set, receives the watch sight of every binding an
	// observation read or left out of this replica's share.
	onObserved func(map[int]bindingSight)
}

func newKafkaScraper(cfg *Config, set receiver.Settings) *kafkaScraper {
	s := &kafkaScraper{
		cfg:            cfg,
		logger:         set.Logger,
		now:            time.Now,
		mb:             schema.NewMetricsBuilder(cfg.MetricsBuilderConfig, set),
		states:         make([]*bindingState, len(cfg.Bindings)),
		lastStatusText: make([]string, len(cfg.Bindings)),
		reader: offsetReader{
			readCommitted: cfg.IsolationLevel == IsolationReadCommitted,
			usesSASL:      cfg.Authentication.SASL != nil,
		},
		ages: newPendingAger(cfg, set.Logger),
	}
	rb := schema.NewResourceBuilder(cfg.ResourceAttributes)
	if cfg.ClusterAlias != "" {
		rb.SetKafkaClusterAlias(cfg.ClusterAlias)
	}
	s.resource = rb.Emit()
	if s.reader.readCommitted {
		s.residues = newResidueChecker(len(cfg.Bindings))
	}
	for i := range cfg.Bindings {
		s.states[i] = newBindingState()
		s.allBindings = append(s.allBindings, i)
	}
	s.observed = make([]bool, len(cfg.Bindings))
	if cfg.Coordination.HasValue() {
		s.shareChanged = make(chan struct{}, 1)
	}
	s.watch(s.allBindings)
	return s
}

// watch makes the reader read the topics and groups of the given bindings.
func (s *kafkaScraper) watch(indexes []int) {
	s.reader.topics, s.reader.groups = topicsAndGroupsOf(s.cfg.Bindings, indexes)
}

// topicsAndGroupsOf lists, once each, the topics and groups of the given
// bindings: two bindings sharing a topic or a group read it once.
func topicsAndGroupsOf(bindings []BindingConfig, indexes []int) (topics, groups []string) {
	seenTopics, seenGroups := map[string]bool{}, map[string]bool{}
	for _, i := range indexes {
		b := bindings[i]
		if !seenTopics[b.Topic] {
			seenTopics[b.Topic] = true
			topics = append(topics, b.Topic)
		}
		if !seenGroups[b.ConsumerGroup] {
			seenGroups[b.ConsumerGroup] = true
			groups = append(groups, b.ConsumerGroup)
		}
	}
	return topics, groups
}

// start creates the receiver's one Kafka client; it connects lazily, so a
// broker that is down at start shows up as scrape errors, not a failed start.
func (s *kafkaScraper) start(ctx context.Context, host component.Host) error {
	opts, err := clientOptions(ctx, &s.cfg.ClientConfig, host)
	if err != nil {
		return err
	}
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("creating Kafka client for brokers %v: %w", s.cfg.Brokers, err)
	}
	s.reader.client = client
	if s.residues != nil {
		s.residues.client = client
	}
	s.startCoordination(client)
	if s.ages != nil && s.ages.records != nil {
		s.ages.records.client = client
	}
	return nil
}

func (s *kafkaScraper) shutdown(context.Context) error {
	if s.stopCoordination != nil {
		s.stopCoordination()
	}
	if s.reader.client != nil {
		s.reader.client.Close()
	}
	return nil
}

func (s *kafkaScraper) scrape(ctx context.Context) (pmetric.Metrics, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	observed := s.observedBindings()
	if len(observed) == 0 {
		s.notifyObserved(s.allBindings, nil)
		return pmetric.NewMetrics(), nil
	}
	return s.observeBindings(ctx, observed, s.allBindings, s.reader)
}

// observeBindings reads, with reader, and observes the bindings of the given
// indices, in increasing order, and returns their points; reader reads their
// topics and groups. The watch's sights of every binding in scope are
// replaced: those observed by what this observation saw, the others (not
// this replica's) by none. Callers hold s.mu.
func (s *kafkaScraper) observeBindings(ctx context.Context, indices, scope []int, reader offsetReader) (pmetric.Metrics, error) {
	now := s.now()
	s.observations++
	offsets := reader.read(ctx)
	reads := make([]bindingOffsets, len(s.cfg.Bindings))
	readErrs := make([]error, len(s.cfg.Bindings))
	for i := range readErrs {
		readErrs[i] = errNotObserved
	}
	for _, i := range indices {
		b := s.cfg.Bindings[i]
		reads[i], readErrs[i] = offsets.offsetsOf(b.Topic, b.ConsumerGroup)
	}
	if s.residues != nil {
		s.residues.settle(ctx, offsets.layout, s.cfg.Bindings, reads, readErrs)
	}
	if s.ages != nil {
		s.ages.startScrape(now, offsets.layout, s.cfg.Bindings, indices, reads, readErrs)
	}

	ts := pcommon.NewTimestampFromTime(now)
	var errs scrapererror.ScrapeErrors
	var sights map[int]bindingSight
	if s.onObserved != nil {
		sights = make(map[int]bindingSight, len(indices))
	}
	for n, i := range indices {
		if n > 0 && n%bindingsPerEmit == 0 {
			s.mb.EmitForResource(schema.WithResource(s.resource))
		}
		b := s.cfg.Bindings[i]
		read, err := reads[i], readErrs[i]
		s.logBindingStatus(i, err, read.commitsErr)
		if err != nil {
			// No pending point: an unreadable binding must not look idle.
			errs.AddPartial(1, fmt.Errorf("binding %s: %w", b, err))
			continue
		}
		var obs observation
		if read.commitsErr != nil {
			obs = s.states[i].observeProduced(read.partitions)
		} else {
			obs = s.states[i].observe(now, read.partitions, s.cfg.OffsetReset, s.partitionRecorder(i, ts, b))
		}
		if sights != nil {
			sights[i] = sightOf(s.observations, b.Topic, offsets, read.partitions, obs.pending)
		}
		s.mb.RecordSlimfaaskafkaPendingMessagesDataPoint(ts, obs.pending, b.Topic, b.ConsumerGroup, b.Function)
		s.mb.RecordSlimfaaskafkaConsumedMessagesDataPoint(ts, obs.consumed, b.Topic, b.ConsumerGroup, b.Function)
		if !obs.lastActivity.IsZero() {
			s.mb.RecordSlimfaaskafkaLastActivityTimestampDataPoint(ts, unixSeconds(obs.lastActivity), b.Topic, b.ConsumerGroup, b.Function)
		}
	}
	s.notifyObserved(scope, sights)
	if s.ages != nil {
		s.recordPendingAges(ctx, now, ts, offsets.layout)
	}
	md := s.mb.Emit(schema.WithResource(s.resource))
	mergeIntoFirstResource(md)
	return md, errs.Combine()
}

// notifyObserved hands the watch the sights of an observation, with no
// sight (not watched) for every binding of scope it did not read.
func (s *kafkaScraper) notifyObserved(scope []int, sights map[int]bindingSight) {
	if s.onObserved == nil {
		return
	}
	if sights == nil {
		sights = map[int]bindingSight{}
	}
	for _, i := range scope {
		if _, ok := sights[i]; !ok {
			sights[i] = bindingSight{}
		}
	}
	s.onObserved(sights)
}

// earlyReportable keeps, of the given bindings, those this replica owns now
// and observed at its last scrape: a binding another replica took over since
// is not reported, even before the next scrape stops watching it.
func (s *kafkaScraper) earlyReportable(bindings []int) []int {
	if s.owner == nil {
		return bindings
	}
	_, owned := s.owner.Owned()
	ownedNow := make(map[int]bool, len(owned))
	for _, i := range owned {
		ownedNow[i] = true
	}
	return slices.DeleteFunc(slices.Clone(bindings), func(i int) bool { return !ownedNow[i] || !s.observed[i] })
}

// readerFor is the scraper's reader restricted to the topics and groups of
// the given bindings.
func (s *kafkaScraper) readerFor(indices []int) offsetReader {
	r := s.reader
	r.topics, r.groups = topicsAndGroupsOf(s.cfg.Bindings, indices)
	return r
}

// mergeIntoFirstResource gathers the points of every ResourceMetrics of md
// into the first one, so that a scrape is one resource with one point per
// binding. The builder emitted one ResourceMetrics per chunk of bindings, all
// with the same resource and scope.
func mergeIntoFirstResource(md pmetric.Metrics) {
	rms := md.ResourceMetrics()
	if rms.Len() < 2 {
		return
	}
	target := rms.At(0).ScopeMetrics().At(0).Metrics()
	byName := make(map[string]pmetric.Metric, target.Len())
	for _, m := range target.All() {
		byName[m.Name()] = m
	}
	for i := 1; i < rms.Len(); i++ {
		metrics := rms.At(i).ScopeMetrics().At(0).Metrics()
		for j := 0; j < metrics.Len(); j++ {
			m := metrics.At(j)
			existing, ok := byName[m.Name()]
			if !ok {
				existing = target.AppendEmpty()
				m.MoveTo(existing)
				byName[existing.Name()] = existing
				continue
			}
			switch m.Type() {
			case pmetric.MetricTypeGauge:
				m.Gauge().DataPoints().MoveAndAppendTo(existing.Gauge().DataPoints())
			case pmetric.MetricTypeSum:
				m.Sum().DataPoints().MoveAndAppendTo(existing.Sum().DataPoints())
			}
		}
	}
	first := true
	rms.RemoveIf(func(pmetric.ResourceMetrics) bool {
		keep := first
		first = false
		return !keep
	})
}

// partitionRecorder receives each partition's pending range for the
// optional per-partition pending metric and for the pending age, or is nil
// when neither is on.
func (s *kafkaScraper) partitionRecorder(i int, ts pcommon.Timestamp, b BindingConfig) func(int32, offsetRange) {
	perPartition := s.cfg.Metrics.SlimfaaskafkaPartitionPendingMessages.Enabled
	var collectAge func(int32, offsetRange)
	if s.ages != nil {
		collectAge = s.ages.collect(i)
	}
	if !perPartition {
		return collectAge
	}
	return func(partition int32, pending offsetRange) {
		s.mb.RecordSlimfaaskafkaPartitionPendingMessagesDataPoint(ts, pending.len(), b.Topic, b.ConsumerGroup, b.Function, int64(partition))
		if collectAge != nil {
			collectAge(partition, pending)
		}
	}
}

// recordPendingAges records the pending age of every binding that has a
// pending point in this scrape and whose age is known.
func (s *kafkaScraper) recordPendingAges(ctx context.Context, now time.Time, ts pcommon.Timestamp, layout topicLayout) {
	seconds, known := s.ages.ages(ctx, now, layout, s.cfg.Bindings)
	recorded := 0
	for i, b := range s.cfg.Bindings {
		if !known[i] {
			continue
		}
		if recorded > 0 && recorded%bindingsPerEmit == 0 {
			s.mb.EmitForResource(schema.WithResource(s.resource))
		}
		recorded++
		s.mb.RecordSlimfaaskafkaPendingAgeDataPoint(ts, seconds[i], b.Topic, b.ConsumerGroup, b.Function)
	}
}

// logBindingStatus logs a binding's read problem when it changes, and its
// recovery, instead of repeating the same line every scrape.
func (s *kafkaScraper) logBindingStatus(i int, err, commitsErr error) {
	text := ""
	switch {
	case err != nil:
		text = err.Error()
	case commitsErr != nil:
		text = commitsErr.Error()
	}
	if text == s.lastStatusText[i] {
		return
	}
	b := s.cfg.Bindings[i]
	fields := []zap.Field{zap.String("topic", b.Topic), zap.String("group", b.ConsumerGroup), zap.String("function", b.Function)}
	switch {
	case err != nil:
		s.logger.Warn("Cannot read the binding's offsets; no pending value is reported for it until this clears", append(fields, zap.Error(err))...)
	case commitsErr != nil:
		s.logger.Warn("Pending falls back to messages produced since the previous scrape; activity cannot be observed", append(fields, zap.Error(commitsErr))...)
	default:
		s.logger.Info("The binding's offsets are readable again", fields...)
	}
	s.lastStatusText[i] = text
}

func unixSeconds(t time.Time) float64 {
	return float64(t.UnixNano()) / float64(time.Second)
}
