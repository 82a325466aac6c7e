package kafkaread

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/offset"
)

// shareOffsets is what one share group's coordinator answered: the groups'
// share-partitions, absent when the group has not initialised them.
type shareOffsets struct {
	partitions map[offset.TopicPartition]sharePartition
	// err is set when the group's share-partitions could not be read at all.
	err error
}

type sharePartition struct {
	start int64 // the share-partition start offset, -1 when not initialised
	lag   int64 // records not yet acknowledged, -1 when the broker cannot tell
	err   error
}

// readShareGroups sends one DescribeShareGroupOffsets per share-group
// coordinator for all share groups. It asks for every share-partition a
// group has (no topic list): partitions a group has not initialised are
// then absent, which is how a group that never had a member answers too.
func (r *Reader) readShareGroups(ctx context.Context, groups []string) map[string]shareOffsets {
	out := make(map[string]shareOffsets, len(groups))
	if len(groups) == 0 {
		return out
	}
	req := kmsg.NewPtrDescribeShareGroupOffsetsRequest()
	for _, g := range groups {
		rg := kmsg.NewDescribeShareGroupOffsetsRequestGroup()
		rg.GroupID = g
		req.Groups = append(req.Groups, rg)
	}
	for _, shard := range r.client.RequestSharded(ctx, req) {
		coordinator := describeCoordinator(shard.Meta)
		if shard.Err != nil {
			for _, g := range shard.Req.(*kmsg.DescribeShareGroupOffsetsRequest).Groups {
				out[g.GroupID] = shareOffsets{err: shareGroupError(g.GroupID, coordinator, r.explain(shard.Err))}
			}
			continue
		}
		resp := shard.Resp.(*kmsg.DescribeShareGroupOffsetsResponse)
		for _, g := range resp.Groups {
			out[g.GroupID] = shareOffsetsOf(g, resp.Version, coordinator)
		}
	}
	return out
}

// errNoShareLag is the answer of brokers older than Kafka 4.2: their
// DescribeShareGroupOffsets (v0) has no lag, and the start offset alone
// cannot tell acknowledged records from waiting ones.
var errNoShareLag = errors.New("the broker answers DescribeShareGroupOffsets without the lag (version 0): share-group bindings need Kafka 4.2 or later")

func shareOffsetsOf(g kmsg.DescribeShareGroupOffsetsResponseGroup, version int16, coordinator string) shareOffsets {
	if err := kerr.ErrorForCode(g.ErrorCode); err != nil {
		if errors.Is(err, kerr.GroupIDNotFound) {
			// Not created yet: no share-partition is initialised.
			return shareOffsets{}
		}
		return shareOffsets{err: shareGroupError(g.GroupID, coordinator, err)}
	}
	if version < 1 {
		return shareOffsets{err: fmt.Errorf("share group %q (coordinator %s): %w", g.GroupID, coordinator, errNoShareLag)}
	}
	partitions := map[offset.TopicPartition]sharePartition{}
	for _, t := range g.Topics {
		for _, p := range t.Partitions {
			tp := offset.TopicPartition{Topic: t.Topic, Partition: p.Partition}
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				partitions[tp] = sharePartition{err: fmt.Errorf("share-partition %d of topic %q in share group %q (coordinator %s): %w", p.Partition, t.Topic, g.GroupID, coordinator, err)}
				continue
			}
			partitions[tp] = sharePartition{start: p.StartOffset, lag: p.Lag}
		}
	}
	return shareOffsets{partitions: partitions}
}

func shareGroupError(group, coordinator string, err error) error {
	if errors.Is(err, kerr.GroupAuthorizationFailed) {
		return fmt.Errorf("the offsets of share group %q are not authorized (grant Describe on the group, and Describe on its topics): %w", group, err)
	}
	return fmt.Errorf("reading the offsets of share group %q from coordinator %s: %w", group, coordinator, err)
}

// ShareReset is how a share group's reset was configured: nil Value when
// unset (Kafka's default, latest), or the error that kept it unread.
type ShareReset struct {
	Value *string
	Err   error
}

// shareResetConfig is the group config that says where a share group starts
// on a partition it has not initialised.
const shareResetConfig = "share.auto.offset.reset"

// ShareResets reads the share.auto.offset.reset of share groups, in one
// DescribeConfigs request for all of them.
func (r *Reader) ShareResets(ctx context.Context, groups []string) map[string]ShareReset {
	out := make(map[string]ShareReset, len(groups))
	if len(groups) == 0 {
		return out
	}
	req := kmsg.NewPtrDescribeConfigsRequest()
	for _, g := range groups {
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType = kmsg.ConfigResourceTypeGroupConfig
		rr.ResourceName = g
		rr.ConfigNames = []string{shareResetConfig}
		req.Resources = append(req.Resources, rr)
	}
	for _, shard := range r.client.RequestSharded(ctx, req) {
		if shard.Err != nil {
			for _, rr := range shard.Req.(*kmsg.DescribeConfigsRequest).Resources {
				out[rr.ResourceName] = ShareReset{Err: fmt.Errorf("reading %s of share group %q from %s: %w", shareResetConfig, rr.ResourceName, describeBroker(shard.Meta), r.explain(shard.Err))}
			}
			continue
		}
		for _, res := range shard.Resp.(*kmsg.DescribeConfigsResponse).Resources {
			out[res.ResourceName] = shareResetOf(res)
		}
	}
	for _, g := range groups {
		if _, ok := out[g]; !ok {
			out[g] = ShareReset{Err: fmt.Errorf("no answer for %s of share group %q", shareResetConfig, g)}
		}
	}
	return out
}

func shareResetOf(res kmsg.DescribeConfigsResponseResource) ShareReset {
	if err := kerr.ErrorForCode(res.ErrorCode); err != nil {
		if errors.Is(err, kerr.GroupAuthorizationFailed) || errors.Is(err, kerr.ClusterAuthorizationFailed) {
			return ShareReset{Err: fmt.Errorf("%s of share group %q is not authorized (grant DescribeConfigs on the group): %w", shareResetConfig, res.ResourceName, err)}
		}
		return ShareReset{Err: fmt.Errorf("reading %s of share group %q: %w", shareResetConfig, res.ResourceName, err)}
	}
	for _, c := range res.Configs {
		if c.Name == shareResetConfig {
			return ShareReset{Value: c.Value}
		}
	}
	return ShareReset{}
}

// ShareBinding assembles the offsets of one topic as seen by one share
// group. A partition the group has not initialised has no start offset
// (NoCommit); the lag rules count it by the group's reset. Every partition
// must have been read, as for a consumer group; a lag the broker cannot
// tell (-1) on an initialised partition is an error, never a count.
func (c Snapshot) ShareBinding(topic, group string, sinceMillis int64) (BindingRead, error) {
	g, ok := c.shares[group]
	groupErr := g.err
	if !ok {
		groupErr = fmt.Errorf("no share-group offsets answer for share group %q", group)
	}
	return c.assemble(topic, groupErr, func(p int32, o offset.Partition) (offset.Partition, error) {
		tp := offset.TopicPartition{Topic: topic, Partition: p}
		o.Share = true
		// A failed partition carries a zero start, so it takes this branch.
		if sp, ok := g.partitions[tp]; ok && sp.start >= 0 {
			switch {
			case sp.err != nil:
				return o, sp.err
			case sp.lag < 0:
				return o, fmt.Errorf("share-partition %d of topic %q in share group %q: the broker could not tell its lag (-1); it is read again at the next scrape", tp.Partition, topic, group)
			}
			o.Committed, o.Unacknowledged = sp.start, sp.lag
			return o, nil
		}
		if sinceMillis < 0 {
			return o, nil
		}
		since, err := c.since[sinceMillis].get(tp)
		// No record is newer than the duration: the group would start at
		// the end.
		o.TimestampStart = cmpOffset(since, o.HighWatermark)
		return o, err
	})
}

func cmpOffset(found, end int64) int64 {
	if found < 0 || found > end {
		return end
	}
	return found
}
