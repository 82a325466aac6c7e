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
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/rates"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/scaling"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/watch"
)

// reporter turns observations into metric points.
type reporter struct {
	// points is the schema every observation's points follow; its resource
	// carries kafka.cluster.alias when set.
	points       *pointSchema
	perPartition bool
}

func newReporter(cfg *Config, set receiver.Settings) *reporter {
	rb := schema.NewResourceBuilder(cfg.ResourceAttributes)
	if cfg.ClusterAlias != "" {
		rb.SetKafkaClusterAlias(cfg.ClusterAlias)
	}
	return &reporter{
		points:       newPointSchema(schema.NewMetricsBuilder(cfg.MetricsBuilderConfig, set), rb.Emit()),
		perPartition: cfg.Metrics.SlimfaaskafkaPartitionPendingMessages.Enabled,
	}
}

// report records the points of every binding read in full, logs the read
// problems that changed, and hands the watch the new sights. It returns the
// points, whether every binding was read in full, and the partial errors
// of the others.
func (s *kafkaScraper) report(now time.Time, reads []bindingRead) (pmetric.Metrics, bool, error) {
	ts := pcommon.NewTimestampFromTime(now)
	w := s.out.points.newPointWriter(len(reads))
	var errs scrapererror.ScrapeErrors
	allRead := true
	owned, known := s.ownedNow()
	for _, r := range reads {
		b := s.cfg.Bindings[r.index]
		at := b.attributes()
		mem := &s.memories[r.index]
		s.logStatus(b, mem, r.err, r.CommitsErr)
		s.logOutOfRange(b, mem, r.result.OutOfRange)
		if r.err != nil {
			// No value: an unreadable binding must not look idle.
			mem.sight = watch.Sight{}
			allRead = false
			errs.AddPartial(1, fmt.Errorf("binding %s: %w", b, r.err))
			recordStatus(w, ts, at, health.Error)
			continue
		}
		mem.sight = r.sight
		w.int(pendingMessages, ts, r.result.Pending, at)
		if owned != nil && known {
			w.int(bindingOwned, ts, boolToInt(owned[r.index]), at)
		}
		w.int(consumedMessages, ts, r.result.Consumed, at)
		if !r.result.LastActivity.IsZero() {
			w.double(lastActivityTimestamp, ts, unixSeconds(r.result.LastActivity), at)
		}
		if s.out.perPartition {
			for _, pr := range r.result.Ranges {
				w.int(partitionPendingMessages, ts, pr.Pending, at.inPartition(pr.Partition))
			}
		}
		if r.age.Known {
			w.double(pendingAge, ts, r.age.Seconds, at)
		}
		w.int(producedMessages, ts, r.produced, at)
		w.int(partitions, ts, int64(r.partitions), at)
		w.int(partitionsPending, ts, int64(r.result.PartitionsPending), at)
		if policy := s.policies[r.index]; policy != nil {
			backlog := scaling.Backlog{Pending: r.result.Pending, Partitions: r.partitions, PartitionsPending: r.result.PartitionsPending, Queue: b.IsShare()}
			w.int(desiredReplicas, ts, scaling.DesiredReplicas(backlog, *policy), at)
		}
		change, ok := mem.rates.Over()
		if seconds, known := scaling.DrainTime(r.result.Pending, change, ok); known {
			w.double(drainTime, ts, seconds, at)
		}
		s.reportHealth(w, ts, b, mem, &r, change, ok)
	}
	s.updateWatch()
	md := w.emit()
	return md, allRead, errs.Combine()
}

// reportHealth records the binding's members, lost messages, stalled
// partitions and status, and logs the losses and the members' problems.
func (s *kafkaScraper) reportHealth(w *pointWriter, ts pcommon.Timestamp, b BindingConfig, mem *bindingMemory, r *bindingRead, window rates.Change, windowKnown bool) {
	at := b.attributes()
	members, membersKnown := r.knownMembers()
	if r.membersRead {
		s.logMembers(b, mem, r.members.Err)
	}
	if membersKnown {
		w.int(groupMembers, ts, int64(members), at)
	}
	s.logLosses(b, r.losses)
	w.int(lostMessages, ts, mem.losses.Total(), at)
	w.int(stalledPartitions, ts, int64(r.stalled), at)
	recordStatus(w, ts, at, health.StatusOf(health.Figures{
		Read: true, Pending: r.result.Pending, StalledPartitions: r.stalled,
		Members: members, MembersKnown: membersKnown, Window: window, WindowKnown: windowKnown,
	}))
}

// recordStatus records the binding's status set: 1 for status, 0 for the
// others, so that two statuses are never 1 at once.
func recordStatus(w *pointWriter, ts pcommon.Timestamp, at pointAttributes, status health.Status) {
	for _, st := range health.Statuses {
		value := int64(0)
		if st == status {
			value = 1
		}
		at.status = st.String()
		w.int(bindingStatus, ts, value, at)
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

func unixSeconds(t time.Time) float64 {
	return float64(t.UnixNano()) / float64(time.Second)
}

func boolToInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
