package kafkawakereceiver // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver"

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// clusterOffsets is everything one scrape read from Kafka, for all bindings.
type clusterOffsets struct {
	ends, starts       kadm.ListedOffsets
	endsErr, startsErr error
	commits            kadm.FetchOffsetsResponses
}

// readClusterOffsets reads every watched topic and group with batched
// requests: OffsetFetch per group coordinator, then ListOffsets per partition
// leader for the high watermarks and the log starts. The number of requests
// depends on the number of brokers, not on bindings or partitions.
func readClusterOffsets(ctx context.Context, adm *kadm.Client, topics, groups []string) clusterOffsets {
	var c clusterOffsets
	// Commits are read before the watermarks, so a commit racing the reads
	// shows up as fewer pending messages, never as a commit above the end.
	c.commits = adm.FetchManyOffsets(ctx, groups...)
	var wg sync.WaitGroup
	wg.Go(func() { c.ends, c.endsErr = adm.ListEndOffsets(ctx, topics...) })
	wg.Go(func() { c.starts, c.startsErr = adm.ListStartOffsets(ctx, topics...) })
	wg.Wait()
	return c
}

// partitionsOf assembles the offsets of one topic as seen by one group, or
// says why they cannot be trusted. It never turns an error into zeros.
func (c clusterOffsets) partitionsOf(topic, group string) (map[int32]partitionOffsets, error) {
	ends, err := topicOffsets(c.ends, c.endsErr, topic, "high watermarks")
	if err != nil {
		return nil, err
	}
	starts, err := topicOffsets(c.starts, c.startsErr, topic, "log start offsets")
	if err != nil {
		return nil, err
	}
	commits, err := c.groupCommits(group)
	if err != nil {
		return nil, err
	}
	partitions := make(map[int32]partitionOffsets, len(ends))
	for p, end := range ends {
		start, ok := starts[p]
		if !ok {
			return nil, fmt.Errorf("no log start offset for partition %d of topic %q", p, topic)
		}
		committed := noCommit
		if commit, ok := commits.Lookup(topic, p); ok {
			if commit.Err != nil {
				return nil, fmt.Errorf("committed offset of group %q on partition %d of topic %q: %w", group, p, topic, commit.Err)
			}
			if commit.At >= 0 {
				committed = commit.At
			}
		}
		partitions[p] = partitionOffsets{highWatermark: end.Offset, logStart: start.Offset, committed: committed}
	}
	return partitions, nil
}

func topicOffsets(listed kadm.ListedOffsets, listErr error, topic, what string) (map[int32]kadm.ListedOffset, error) {
	partitions, ok := listed[topic]
	if !ok || len(partitions) == 0 {
		if listErr != nil {
			return nil, fmt.Errorf("listing %s of topic %q: %w", what, topic, listErr)
		}
		return nil, fmt.Errorf("topic %q: no %s returned", topic, what)
	}
	for p, o := range partitions {
		if o.Err == nil {
			continue
		}
		if p < 0 && errors.Is(o.Err, kerr.UnknownTopicOrPartition) {
			return nil, fmt.Errorf("topic %q does not exist (the receiver never creates topics): %w", topic, o.Err)
		}
		return nil, fmt.Errorf("listing %s of topic %q partition %d: %w", what, topic, p, o.Err)
	}
	return partitions, nil
}

// groupCommits returns the group's committed offsets. A group that never
// committed is the normal scale-from-zero case: Apache Kafka answers it with
// -1 offsets, some brokers with GROUP_ID_NOT_FOUND; both mean "no commit".
func (c clusterOffsets) groupCommits(group string) (kadm.OffsetResponses, error) {
	resp, ok := c.commits[group]
	if !ok {
		return nil, fmt.Errorf("no committed-offsets answer for group %q", group)
	}
	if resp.Err != nil {
		if errors.Is(resp.Err, kerr.GroupIDNotFound) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading committed offsets of group %q: %w", group, resp.Err)
	}
	return resp.Fetched, nil
}
