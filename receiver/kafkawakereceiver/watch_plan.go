package kafkawakereceiver // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver"

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// bindingSight is what the latest observation of a binding says about
// watching it. The zero value (unread, or read with an error) is not watched.
type bindingSight struct {
	idle       bool // every partition read and nothing pending
	seq        uint64
	topic      string
	topicID    [16]byte
	partitions map[int32]sightPartition
}

// sightPartition is where a partition's messages end and who serves them.
type sightPartition struct {
	leader int32 // -1 when the partition has no leader
	end    int64
}

// watchTarget is one partition to long-poll: from which offset, and which
// bindings to report when a message arrives there.
type watchTarget struct {
	topicPartition
	topicID  [16]byte
	from     int64
	bindings []int
}

// watchPlan holds the targets of each leader broker, sorted by topic and
// partition so that plans compare equal when nothing changed.
type watchPlan map[int32][]watchTarget

// sightOf records a binding's observation for the watch: idle when it was
// read with nothing pending, with each partition's leader and end offset as
// Kafka listed it (the residue check may have closed a range below it).
func sightOf(seq uint64, topic string, offsets clusterOffsets, partitions map[int32]partitionOffsets, pending int64) bindingSight {
	s := bindingSight{idle: pending == 0, seq: seq, topic: topic, topicID: offsets.layout.ids[topic], partitions: make(map[int32]sightPartition, len(partitions))}
	for p := range partitions {
		tp := topicPartition{topic: topic, partition: p}
		leader, ok := offsets.layout.leaders[tp]
		if !ok {
			leader = -1
		}
		s.partitions[p] = sightPartition{leader: leader, end: offsets.ends[tp]}
	}
	return s
}

// planWatch decides what to long-poll: every partition of every idle
// binding, except topics the watch was turned off for, at its leader. Each
// partition is polled from the lowest end offset its idle bindings saw, so
// that none of them misses a message, and at the leader of the most recent
// sight, which knows best where it moved.
func planWatch(sights []bindingSight, off map[string]bool) watchPlan {
	type merged struct {
		target watchTarget
		leader int32
		seq    uint64
	}
	byPartition := map[topicPartition]*merged{}
	for i, s := range sights {
		if !s.idle || off[s.topic] {
			continue
		}
		for p, sp := range s.partitions {
			tp := topicPartition{topic: s.topic, partition: p}
			m, ok := byPartition[tp]
			if !ok {
				m = &merged{target: watchTarget{topicPartition: tp, topicID: s.topicID, from: sp.end}, leader: sp.leader, seq: s.seq}
				byPartition[tp] = m
			}
			m.target.from = min(m.target.from, sp.end)
			m.target.bindings = append(m.target.bindings, i)
			if s.seq > m.seq {
				m.leader, m.seq, m.target.topicID = sp.leader, s.seq, s.topicID
			}
		}
	}
	plan := watchPlan{}
	for _, m := range byPartition {
		if m.leader < 0 {
			continue // nobody to ask; the next scrape finds the new leader
		}
		plan[m.leader] = append(plan[m.leader], m.target)
	}
	for _, targets := range plan {
		slices.SortFunc(targets, func(a, b watchTarget) int {
			return cmp.Or(cmp.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition))
		})
	}
	return plan
}

// armable drops the targets that already fired from the offset they are
// planned at: they are polled again only once an observation has moved them
// on, so a poll that keeps answering at once cannot spin. It also returns
// the fired offsets still worth remembering.
func armable(targets []watchTarget, fired map[topicPartition]int64) ([]watchTarget, map[topicPartition]int64) {
	out := make([]watchTarget, 0, len(targets))
	kept := map[topicPartition]int64{}
	for _, t := range targets {
		if at, ok := fired[t.topicPartition]; ok && t.from <= at {
			kept[t.topicPartition] = at
			continue
		}
		out = append(out, t)
	}
	return out, kept
}

// watchFetchRequest is one long poll for targets: it returns as soon as one
// byte arrives on any of them, or after maxWait. It asks for as little data
// as the protocol allows, since only the end offsets are used.
func watchFetchRequest(targets []watchTarget, maxWait time.Duration, readCommitted bool) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = int32(maxWait.Milliseconds())
	req.MinBytes = 1
	req.MaxBytes = 1
	if readCommitted {
		req.IsolationLevel = 1
	}
	req.SessionID = 0
	req.SessionEpoch = -1 // no fetch session: every poll is complete in itself
	for _, t := range targets {
		if n := len(req.Topics); n == 0 || req.Topics[n-1].Topic != t.topic {
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic = t.topic
			rt.TopicID = t.topicID
			req.Topics = append(req.Topics, rt)
		}
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = t.partition
		rp.FetchOffset = t.from
		rp.PartitionMaxBytes = 1
		rt := &req.Topics[len(req.Topics)-1]
		rt.Partitions = append(rt.Partitions, rp)
	}
	return req
}

// pollOutcome sorts a long poll's answer by what the watch does next.
type pollOutcome struct {
	// arrived are the targets whose end moved past the polled offset.
	arrived []watchTarget
	// stale are the targets whose leader, topic or offsets changed under
	// the poll (moved leader, deleted or re-created topic, truncation): an
	// observation refreshes them.
	stale []watchTarget
	// denied are the topics the collector may not read.
	denied map[string]error
	// failed holds any other partition error.
	failed error
}

// readPoll classifies a long poll's answer for the targets it polled.
// readCommitted polls end at the last stable offset.
func readPoll(targets []watchTarget, resp *kmsg.FetchResponse, readCommitted bool) pollOutcome {
	type answer struct {
		err error
		end int64
	}
	answers := map[topicPartition]answer{}
	names := map[[16]byte]string{}
	for _, t := range targets {
		names[t.topicID] = t.topic
	}
	for _, rt := range resp.Topics {
		topic := rt.Topic
		if topic == "" {
			topic = names[rt.TopicID] // v13+ answers carry only the topic ID
		}
		for _, rp := range rt.Partitions {
			end := rp.HighWatermark
			if readCommitted {
				end = rp.LastStableOffset
			}
			answers[topicPartition{topic: topic, partition: rp.Partition}] = answer{err: kerr.ErrorForCode(rp.ErrorCode), end: end}
		}
	}
	var out pollOutcome
	var failures []error
	for _, t := range targets {
		a, ok := answers[t.topicPartition]
		switch {
		case !ok:
			// Not answered: polled again as planned.
		case a.err == nil:
			if a.end > t.from {
				out.arrived = append(out.arrived, t)
			}
		case errors.Is(a.err, kerr.TopicAuthorizationFailed):
			if out.denied == nil {
				out.denied = map[string]error{}
			}
			out.denied[t.topic] = a.err
		case isStaleTargetError(a.err):
			out.stale = append(out.stale, t)
		default:
			failures = append(failures, fmt.Errorf("topic %q partition %d: %w", t.topic, t.partition, a.err))
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
