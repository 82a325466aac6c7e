// Package watch long-polls the partitions of idle bindings, one parked
// Fetch per leader broker, and reports a binding as soon as a message
// arrives there, between scrapes. plan.go decides what to poll (pure);
// watcher.go runs the polls.
package watch // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/watch"

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/kafkaread"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/offset"
)

// Sight is what the latest observation of a binding says about
// watching it. The zero value (unread, or read with an error) is not watched.
type Sight struct {
	Idle       bool // every partition read and nothing pending
	Seq        uint64
	Topic      string
	TopicID    [16]byte
	Partitions map[int32]SightPartition
}

// SightPartition is where a partition's messages end and who serves them.
type SightPartition struct {
	Leader int32 // -1 when the partition has no leader
	End    int64
}

// Target is one partition to long-poll: from which offset, and which
// bindings to report when a message arrives there.
type Target struct {
	offset.TopicPartition
	TopicID  [16]byte
	From     int64
	Bindings []int
}

// Plan holds the targets of each leader broker, sorted by topic and
// partition so that plans compare equal when nothing changed.
type Plan map[int32][]Target

// Listing is what a sight needs of an observation's read; kafkaread's
// Snapshot is one.
type Listing interface {
	TopicID(topic string) [16]byte
	Leader(tp offset.TopicPartition) (int32, bool)
	End(tp offset.TopicPartition) int64
}

// SightOf records a binding's observation for the watch: idle when it was
// read with nothing pending, with each partition's leader and end offset as
// Kafka listed it (the residue check may have closed a range below it).
func SightOf(seq uint64, topic string, listing Listing, partitions offset.Partitions, pending int64) Sight {
	s := Sight{Idle: pending == 0, Seq: seq, Topic: topic, TopicID: listing.TopicID(topic), Partitions: make(map[int32]SightPartition, partitions.Len())}
	for p := range partitions.All() {
		tp := offset.TopicPartition{Topic: topic, Partition: p}
		leader, ok := listing.Leader(tp)
		if !ok {
			leader = -1
		}
		s.Partitions[p] = SightPartition{Leader: leader, End: listing.End(tp)}
	}
	return s
}

// planWatch decides what to long-poll: every partition of every idle
// binding, except topics the watch was turned off for, at its leader. Each
// partition is polled from the lowest end offset its idle bindings saw, so
// that none of them misses a message, and at the leader of the most recent
// sight, which knows best where it moved.
func planWatch(sights []Sight, off map[string]bool) Plan {
	type merged struct {
		target Target
		leader int32
		seq    uint64
	}
	byPartition := map[offset.TopicPartition]*merged{}
	for i, s := range sights {
		if !s.Idle || off[s.Topic] {
			continue
		}
		for p, sp := range s.Partitions {
			tp := offset.TopicPartition{Topic: s.Topic, Partition: p}
			m, ok := byPartition[tp]
			if !ok {
				m = &merged{target: Target{TopicPartition: tp, TopicID: s.TopicID, From: sp.End}, leader: sp.Leader, seq: s.Seq}
				byPartition[tp] = m
			}
			m.target.From = min(m.target.From, sp.End)
			m.target.Bindings = append(m.target.Bindings, i)
			if s.Seq > m.seq {
				m.leader, m.seq, m.target.TopicID = sp.Leader, s.Seq, s.TopicID
			}
		}
	}
	plan := Plan{}
	for _, m := range byPartition {
		if m.leader < 0 {
			continue // nobody to ask; the next scrape finds the new leader
		}
		plan[m.leader] = append(plan[m.leader], m.target)
	}
	for _, targets := range plan {
		slices.SortFunc(targets, func(a, b Target) int {
			return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
		})
	}
	return plan
}

// armable drops the targets that already fired from the offset they are
// planned at: they are polled again only once an observation has moved them
// on, so a poll that keeps answering at once cannot spin. It also returns
// the fired offsets still worth remembering.
func armable(targets []Target, fired map[offset.TopicPartition]int64) ([]Target, map[offset.TopicPartition]int64) {
	out := make([]Target, 0, len(targets))
	kept := map[offset.TopicPartition]int64{}
	for _, t := range targets {
		if at, ok := fired[t.TopicPartition]; ok && t.From <= at {
			kept[t.TopicPartition] = at
			continue
		}
		out = append(out, t)
	}
	return out, kept
}

// pollRequest is one long poll for targets: it returns as soon as one byte
// arrives on any of them, or after maxWait. It asks for as little data as
// the protocol allows, since only the end offsets are used.
func pollRequest(targets []Target, maxWait time.Duration, readCommitted bool) *kmsg.FetchRequest {
	req := kafkaread.NewFetchRequest(kafkaread.FetchShape{ReadCommitted: readCommitted, MaxBytes: 1, MaxWait: maxWait, MinBytes: 1})
	for _, t := range targets {
		kafkaread.AddPartition(req, t.Topic, t.TopicID, t.Partition, t.From, 1)
	}
	return req
}

// pollOutcome sorts a long poll's answer by what the watch does next.
type pollOutcome struct {
	// arrived are the targets whose end moved past the polled offset.
	arrived []Target
	// stale are the targets whose leader, topic or offsets changed under
	// the poll (moved leader, deleted or re-created topic, truncation): an
	// observation refreshes them.
	stale []Target
	// denied are the topics the collector may not read.
	denied map[string]error
	// failed holds any other partition error.
	failed error
}

// readPoll classifies a long poll's answer for the targets it polled.
// readCommitted polls end at the last stable offset.
func readPoll(targets []Target, resp *kmsg.FetchResponse, readCommitted bool) pollOutcome {
	type answer struct {
		err error
		end int64
	}
	answers := map[offset.TopicPartition]answer{}
	names := map[[16]byte]string{}
	for _, t := range targets {
		names[t.TopicID] = t.Topic
	}
	for i := range resp.Topics {
		rt := &resp.Topics[i]
		topic := kafkaread.FetchedTopic(rt, names)
		for _, rp := range rt.Partitions {
			end := rp.HighWatermark
			if readCommitted {
				end = rp.LastStableOffset
			}
			answers[offset.TopicPartition{Topic: topic, Partition: rp.Partition}] = answer{err: kerr.ErrorForCode(rp.ErrorCode), end: end}
		}
	}
	var out pollOutcome
	var failures []error
	for _, t := range targets {
		a, ok := answers[t.TopicPartition]
		switch {
		case !ok:
			// Not answered: polled again as planned.
		case a.err == nil:
			if a.end > t.From {
				out.arrived = append(out.arrived, t)
			}
		case errors.Is(a.err, kerr.TopicAuthorizationFailed):
			if out.denied == nil {
				out.denied = map[string]error{}
			}
			out.denied[t.Topic] = a.err
		case isStaleTargetError(a.err):
			out.stale = append(out.stale, t)
		default:
			failures = append(failures, fmt.Errorf("topic %q partition %d: %w", t.Topic, t.Partition, a.err))
		}
	}
	out.failed = errors.Join(failures...)
	return out
}

func isStaleTargetError(err error) bool {
	for _, stale := range []error{
		kerr.NotLeaderForPartition, kerr.UnknownTopicOrPartition, kerr.UnknownTopicID,
		kerr.InconsistentTopicID, kerr.FencedLeaderEpoch, kerr.UnknownLeaderEpoch,
		kerr.OffsetOutOfRange, kerr.LeaderNotAvailable,
	} {
		if errors.Is(err, stale) {
			return true
		}
	}
	return false
}
