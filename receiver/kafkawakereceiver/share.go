package kafkawakereceiver // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver"

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/kafkaread"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/lag"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/offset"
)

// refreshShareResets reads, in one request, the share.auto.offset.reset of
// the share groups of the given bindings whose setting is due: at most once
// a minute per group.
func (s *kafkaScraper) refreshShareResets(ctx context.Context, now time.Time, indexes []int) {
	var due []string
	seen := map[string]bool{}
	for _, i := range indexes {
		if m := s.memories[i].shareReset; m != nil && m.Due(now) && !seen[s.cfg.Bindings[i].Group()] {
			seen[s.cfg.Bindings[i].Group()] = true
			due = append(due, s.cfg.Bindings[i].Group())
		}
	}
	if len(due) == 0 {
		return
	}
	answers := s.reader.ShareResets(ctx, due)
	for _, i := range indexes {
		if m := s.memories[i].shareReset; m != nil && m.Due(now) {
			a := answers[s.cfg.Bindings[i].Group()]
			m.Update(now, a.Value, a.Err)
		}
	}
}

// sinceQueries asks, for the share groups that reset by_duration, the first
// offsets newer than their durations: one query per distinct duration.
func (s *kafkaScraper) sinceQueries(now time.Time, indexes []int) []kafkaread.TopicsSince {
	var out []kafkaread.TopicsSince
	type query struct {
		millis int64
		topic  string
	}
	asked := map[query]bool{}
	for _, i := range indexes {
		millis, ok := s.sinceMillis(now, i)
		if !ok {
			continue
		}
		topic := s.cfg.Bindings[i].Topic
		if asked[query{millis, topic}] {
			continue
		}
		asked[query{millis, topic}] = true
		at := slices.IndexFunc(out, func(q kafkaread.TopicsSince) bool { return q.Millis == millis })
		if at < 0 {
			out = append(out, kafkaread.TopicsSince{Millis: millis})
			at = len(out) - 1
		}
		out[at].Topics = append(out[at].Topics, topic)
	}
	return out
}

// sinceMillis is where a by_duration share group would start at now, in
// Unix milliseconds, and false for every other binding.
func (s *kafkaScraper) sinceMillis(now time.Time, binding int) (int64, bool) {
	m := s.memories[binding].shareReset
	if m == nil {
		return 0, false
	}
	setting, err := m.Current()
	if err != nil || setting.Reset != lag.FromTimestamp {
		return 0, false
	}
	return now.Add(-setting.Window).UnixMilli(), true
}

// readShareBinding assembles a share-group binding's offsets. Partitions
// the group has not initialised count by its reset, so an unknown reset is
// an error for a binding that has any.
func (s *kafkaScraper) readShareBinding(now time.Time, snapshot kafkaread.Snapshot, binding int) (kafkaread.BindingRead, error) {
	b := s.cfg.Bindings[binding]
	millis, ok := s.sinceMillis(now, binding)
	if !ok {
		millis = -1
	}
	read, err := snapshot.ShareBinding(b.Topic, b.Group(), millis)
	if err != nil {
		return read, err
	}
	if _, resetErr := s.memories[binding].shareReset.Current(); resetErr != nil {
		for p, o := range read.Partitions.All() {
			if o.Committed == offset.NoCommit {
				return kafkaread.BindingRead{}, fmt.Errorf("partition %d of topic %q is not initialised by share group %q, and where the group would start is unknown: %w", p, b.Topic, b.Group(), resetErr)
			}
		}
	}
	return read, nil
}

// resetOf is where the binding's group starts on a partition without a
// position: offset_reset for a consumer group, share.auto.offset.reset for
// a share group.
func (s *kafkaScraper) resetOf(binding int) lag.Reset {
	if m := s.memories[binding].shareReset; m != nil {
		setting, err := m.Current()
		if err != nil {
			// Only initialised partitions are counted then (see
			// readShareBinding), and their start offsets decide.
			return lag.FromLatest
		}
		return setting.Reset
	}
	return s.cfg.lagReset()
}
