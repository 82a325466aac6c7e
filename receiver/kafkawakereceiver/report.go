package kafkawakereceiver // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver"

import (
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/scraper/scrapererror"
	"go.uber.org/zap"

	schema "github.com/kafkawake/kafkawake/internal/metadata"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/health"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/kafkaread"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/rates"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/scaling"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/watch"
)

// bindingsPerEmit bounds the points the generated metrics builder holds at
// once: it compares every new point with all the points recorded since its
// last emit, which is quadratic in the number of bindings (0.8 s for 5,000).
const bindingsPerEmit = 32

// reporter turns observations into metric points.
type reporter struct {
	mb *schema.MetricsBuilder
	// resource is every observation's resource: kafka.cluster.alias when set.
	resource     pcommon.Resource
	perPartition bool
}

func newReporter(cfg *Config, set receiver.Settings) *reporter {
	rb := schema.NewResourceBuilder(cfg.ResourceAttributes)
	if cfg.ClusterAlias != "" {
		rb.SetKafkaClusterAlias(cfg.ClusterAlias)
	}
	return &reporter{
		mb:           schema.NewMetricsBuilder(cfg.MetricsBuilderConfig, set),
		resource:     rb.Emit(),
		perPartition: cfg.Metrics.SlimfaaskafkaPartitionPendingMessages.Enabled,
	}
}

// report records the points of every binding read in full, logs the read
// problems that changed, and hands the watch the new sights. It returns the
// points, whether every binding was read in full, and the partial errors
// of the others.
func (s *kafkaScraper) report(now time.Time, snapshot kafkaread.Snapshot, reads []bindingRead) (pmetric.Metrics, bool, error) {
	ts := pcommon.NewTimestampFromTime(now)
	mb := s.out.mb
	var errs scrapererror.ScrapeErrors
	allRead := true
	owned, known := s.ownedNow()
	for n, r := range reads {
		if n > 0 && n%bindingsPerEmit == 0 {
			mb.EmitForResource(schema.WithResource(s.out.resource))
		}
		b := s.cfg.Bindings[r.index]
		mem := &s.memories[r.index]
		s.logStatus(b, mem, r.err, r.CommitsErr)
		s.logOutOfRange(b, mem, r.result.OutOfRange)
		if r.err != nil {
			// No value: an unreadable binding must not look idle.
			mem.sight = watch.Sight{}
			allRead = false
			errs.AddPartial(1, fmt.Errorf("binding %s: %w", b, r.err))
			s.recordStatus(ts, b, health.Error)
			continue
		}
		if s.watcher != nil {
			mem.sight = watch.SightOf(s.observations, b.Topic, snapshot, r.Partitions, r.result.Pending)
		}
		mb.RecordSlimfaaskafkaPendingMessagesDataPoint(ts, r.result.Pending, b.Topic, b.Group(), b.Function)
		if owned != nil && known {
			mb.RecordSlimfaaskafkaBindingOwnedDataPoint(ts, boolToInt(owned[r.index]), b.Topic, b.Group(), b.Function)
		}
		mb.RecordSlimfaaskafkaConsumedMessagesDataPoint(ts, r.result.Consumed, b.Topic, b.Group(), b.Function)
		if !r.result.LastActivity.IsZero() {
			mb.RecordSlimfaaskafkaLastActivityTimestampDataPoint(ts, unixSeconds(r.result.LastActivity), b.Topic, b.Group(), b.Function)
		}
		if s.out.perPartition {
			for _, pr := range r.result.Ranges {
				mb.RecordSlimfaaskafkaPartitionPendingMessagesDataPoint(ts, pr.Pending, b.Topic, b.Group(), b.Function, int64(pr.Partition))
			}
		}
		if r.age.Known {
			mb.RecordSlimfaaskafkaPendingAgeDataPoint(ts, r.age.Seconds, b.Topic, b.Group(), b.Function)
		}
		mb.RecordSlimfaaskafkaProducedMessagesDataPoint(ts, r.produced, b.Topic, b.Group(), b.Function)
		mb.RecordSlimfaaskafkaPartitionsDataPoint(ts, int64(len(r.Partitions)), b.Topic, b.Group(), b.Function)
		mb.RecordSlimfaaskafkaPartitionsPendingDataPoint(ts, int64(r.result.PartitionsPending), b.Topic, b.Group(), b.Function)
		if policy := s.policies[r.index]; policy != nil {
			backlog := scaling.Backlog{Pending: r.result.Pending, Partitions: len(r.Partitions), PartitionsPending: r.result.PartitionsPending, Queue: b.IsShare()}
			mb.RecordSlimfaaskafkaDesiredReplicasDataPoint(ts, scaling.DesiredReplicas(backlog, *policy), b.Topic, b.Group(), b.Function)
		}
		change, ok := mem.rates.Over()
		if seconds, known := scaling.DrainTime(r.result.Pending, change, ok); known {
			mb.RecordSlimfaaskafkaDrainTimeDataPoint(ts, seconds, b.Topic, b.Group(), b.Function)
		}
		s.reportHealth(now, ts, b, mem, &r, change, ok)
	}
	s.updateWatch()
	md := mb.Emit(schema.WithResource(s.out.resource))
	mergeIntoFirstResource(md)
	return md, allRead, errs.Combine()
}

// reportHealth records the binding's members, lost messages, stalled
// partitions and status, and logs the losses and the members' problems.
func (s *kafkaScraper) reportHealth(now time.Time, ts pcommon.Timestamp, b BindingConfig, mem *bindingMemory, r *bindingRead, window rates.Change, windowKnown bool) {
	mb := s.out.mb
	members, membersKnown := r.members.Members, r.membersRead && r.members.Err == nil
	if r.membersRead {
		s.logMembers(b, mem, r.members.Err)
	}
	if membersKnown {
		mb.RecordSlimfaaskafkaGroupMembersDataPoint(ts, int64(members), b.Topic, b.Group(), b.Function)
	}
	stalled := 0
	if r.CommitsErr == nil {
		stalled = mem.stalls.Observe(now, s.cfg.Health.StallAfter, r.listed, r.result.Ranges, members, membersKnown)
		_, found := mem.losses.Observe(r.listed)
		s.logLosses(b, found)
	}
	mb.RecordSlimfaaskafkaLostMessagesDataPoint(ts, mem.losses.Total(), b.Topic, b.Group(), b.Function)
	mb.RecordSlimfaaskafkaStalledPartitionsDataPoint(ts, int64(stalled), b.Topic, b.Group(), b.Function)
	s.recordStatus(ts, b, health.StatusOf(health.Figures{
		Read: true, Pending: r.result.Pending, StalledPartitions: stalled,
		Members: members, MembersKnown: membersKnown, Window: window, WindowKnown: windowKnown,
	}))
}

// recordStatus records the binding's status set: 1 for status, 0 for the
// others, so that two statuses are never 1 at once.
func (s *kafkaScraper) recordStatus(ts pcommon.Timestamp, b BindingConfig, status health.Status) {
	for _, st := range health.Statuses {
		value := int64(0)
		if st == status {
			value = 1
		}
		s.out.mb.RecordSlimfaaskafkaBindingStatusDataPoint(ts, value, b.Topic, b.Group(), b.Function, schema.MapAttributeStatus[st.String()])
	}
}

// logLosses logs each new loss once, with its partition and count.
func (s *kafkaScraper) logLosses(b BindingConfig, losses []health.Loss) {
	for _, l := range losses {
		fields := []zap.Field{zap.String("topic", b.Topic), zap.String("group", b.Group()), zap.String("function", b.Function),
			zap.Int32("partition", l.Partition), zap.Int64("messages", l.Messages)}
		if l.Baseline {
			s.logger.Info("Retention had deleted messages the group never read before this binding was first observed; they are not counted as lost", fields...)
			continue
		}
		s.logger.Warn("Messages were deleted (retention or DeleteRecords) before the group read them: the function will never see them", fields...)
	}
}

// logMembers logs why the group's members are unknown when it changes, and
// when they are known again.
func (s *kafkaScraper) logMembers(b BindingConfig, mem *bindingMemory, err error) {
	text := ""
	if err != nil {
		text = err.Error()
	}
	if !mem.members.Changed(text) {
		return
	}
	fields := []zap.Field{zap.String("topic", b.Topic), zap.String("group", b.Group()), zap.String("function", b.Function)}
	if err != nil {
		s.logger.Warn("The group's members are unknown: its status is decided from its consumption alone, and it has no group_members point", append(fields, zap.Error(err))...)
		return
	}
	s.logger.Info("The group's members are known again", fields...)
}

// updateWatch hands the watch the sight of every binding.
func (s *kafkaScraper) updateWatch() {
	if s.watcher == nil {
		return
	}
	sights := make([]watch.Sight, len(s.memories))
	for i := range s.memories {
		sights[i] = s.memories[i].sight
	}
	s.watcher.Update(sights)
}

// logStatus logs a binding's read problem when it changes, and its
// recovery, instead of repeating the same line every scrape.
func (s *kafkaScraper) logStatus(b BindingConfig, mem *bindingMemory, err, commitsErr error) {
	text := ""
	switch {
	case err != nil:
		text = err.Error()
	case commitsErr != nil:
		text = commitsErr.Error()
	}
	if !mem.status.Changed(text) {
		return
	}
	fields := []zap.Field{zap.String("topic", b.Topic), zap.String("group", b.Group()), zap.String("function", b.Function)}
	switch {
	case err != nil:
		s.logger.Warn("Cannot read the binding's offsets; no pending value is reported for it until this clears", append(fields, zap.Error(err))...)
	case commitsErr != nil:
		s.logger.Warn("Pending falls back to messages produced since the previous scrape; activity cannot be observed", append(fields, zap.Error(commitsErr))...)
	default:
		s.logger.Info("The binding's offsets are readable again", fields...)
	}
}

// logOutOfRange logs, when they change, the partitions whose commit is
// beyond their end, and when none is left.
func (s *kafkaScraper) logOutOfRange(b BindingConfig, mem *bindingMemory, partitions []int32) {
	text := ""
	if len(partitions) > 0 {
		text = fmt.Sprint(partitions)
	}
	if !mem.outOfRange.Changed(text) {
		return
	}
	fields := []zap.Field{zap.String("topic", b.Topic), zap.String("group", b.Group()), zap.String("function", b.Function)}
	if text == "" {
		s.logger.Info("The group's committed offsets are within their partitions again", fields...)
		return
	}
	s.logger.Warn("The group's committed offset is beyond the end of these partitions (topic re-created under the same name, or offset set by hand): its consumer will reset by its offset reset, so they count as if it had no commit, by offset_reset",
		append(fields, zap.Int32s("partitions", partitions), zap.String("offset_reset", string(s.cfg.OffsetReset)))...)
}

// mergeIntoFirstResource gathers the points of every ResourceMetrics of md
// into the first one, so that an observation is one resource with one point
// per binding. The builder emitted one ResourceMetrics per chunk of
// bindings, all with the same resource and scope.
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

func unixSeconds(t time.Time) float64 {
	return float64(t.UnixNano()) / float64(time.Second)
}

func boolToInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
