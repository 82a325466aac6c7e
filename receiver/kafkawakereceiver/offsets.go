package kafkawakereceiver // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver"

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// clusterOffsets is everything one scrape read from Kafka, for all bindings.
type clusterOffsets struct {
	layout             topicLayout
	topicErrs          map[string]error // topics that cannot be listed at all
	ends, starts       kadm.ListedOffsets
	endsErr, startsErr error
	commits            kadm.FetchOffsetsResponses
}

// offsetReader reads every watched topic and group with batched requests:
// OffsetFetch per group coordinator, then ListOffsets per partition leader
// for the end offsets and the log starts. The number of requests depends on
// the number of brokers, not on bindings or partitions.
type offsetReader struct {
	client *kgo.Client
	adm    *kadm.Client
	topics []string
	groups []string
	// readCommitted lists end offsets as the last stable offset, which is
	// where a read_committed consumer stops.
	readCommitted bool
	// usesSASL turns a bare EOF from the brokers into a hint: brokers close
	// the connection when they reject SASL credentials.
	usesSASL bool
}

func (r *offsetReader) read(ctx context.Context) clusterOffsets {
	var c clusterOffsets
	// Commits are read before the end offsets, so a commit racing the reads
	// shows up as fewer pending messages, never as a commit above the end.
	c.commits = r.adm.FetchManyOffsets(ctx, r.groups...)
	listable, layout, topicErrs, err := r.listableTopics(ctx)
	if err != nil {
		err = r.explain(err)
		c.topicErrs = make(map[string]error, len(r.topics))
		for _, t := range r.topics {
			c.topicErrs[t] = err
		}
		return c
	}
	c.layout, c.topicErrs = layout, topicErrs
	if len(listable) == 0 {
		return c
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if r.readCommitted {
			c.ends, c.endsErr = r.adm.ListCommittedOffsets(ctx, listable...)
		} else {
			c.ends, c.endsErr = r.adm.ListEndOffsets(ctx, listable...)
		}
	})
	wg.Go(func() { c.starts, c.startsErr = r.adm.ListStartOffsets(ctx, listable...) })
	wg.Wait()
	if hasStaleLeader(c.ends) || hasStaleLeader(c.starts) {
		// A partition moved: the affected bindings report an error in this
		// scrape, and the refreshed leaders serve the next one.
		r.client.ForceMetadataRefresh()
	}
	return c
}

func hasStaleLeader(listed kadm.ListedOffsets) bool {
	for _, partitions := range listed {
		for p, o := range partitions {
			if p >= 0 && o.Err != nil && kerr.IsRetriable(o.Err) {
				return true
			}
		}
	}
	return false
}

// topicLayout is where the watched topics' partitions live.
type topicLayout struct {
	leaders map[string]map[int32]int32
	ids     map[string][16]byte
	names   map[[16]byte]string
}

// listableTopics checks the watched topics in the (cached) metadata. kadm's
// list calls fail as a whole when any one topic is not authorized, so such
// topics, and missing ones, are set aside with their own error and the
// others are listed.
func (r *offsetReader) listableTopics(ctx context.Context) ([]string, topicLayout, map[string]error, error) {
	req := kmsg.NewPtrMetadataRequest()
	for _, t := range r.topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := r.client.RequestCachedMetadata(ctx, req, 0)
	if err != nil {
		return nil, topicLayout{}, nil, fmt.Errorf("reading topic metadata: %w", err)
	}
	topicErrs := map[string]error{}
	layout := topicLayout{leaders: map[string]map[int32]int32{}, ids: map[string][16]byte{}, names: map[[16]byte]string{}}
	for _, t := range resp.Topics {
		if t.Topic == nil {
			continue
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			topicErrs[*t.Topic] = topicError(*t.Topic, err)
			continue
		}
		layout.ids[*t.Topic] = t.TopicID
		layout.names[t.TopicID] = *t.Topic
		leaders := make(map[int32]int32, len(t.Partitions))
		for _, p := range t.Partitions {
			leaders[p.Partition] = p.Leader
		}
		layout.leaders[*t.Topic] = leaders
	}
	listable := make([]string, 0, len(r.topics))
	for _, t := range r.topics {
		if topicErrs[t] == nil {
			listable = append(listable, t)
		}
	}
	return listable, layout, topicErrs, nil
}

func (r *offsetReader) explain(err error) error {
	if r.usesSASL && errors.Is(err, io.EOF) {
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

// bindingOffsets is one binding's view of a scrape.
type bindingOffsets struct {
	partitions map[int32]partitionOffsets
	// commitsErr is set when the group's committed offsets are not
	// authorized: partitions then carry no commits and pending falls back to
	// the messages produced since the previous scrape.
	commitsErr error
}

// offsetsOf assembles the offsets of one topic as seen by one group, or says
// why they cannot be trusted. It never turns an error into zeros.
func (c clusterOffsets) offsetsOf(topic, group string) (bindingOffsets, error) {
	if err := c.topicErrs[topic]; err != nil {
		return bindingOffsets{}, err
	}
	ends, err := topicOffsets(c.ends, c.endsErr, topic, "end offsets")
	if err != nil {
		return bindingOffsets{}, err
	}
	starts, err := topicOffsets(c.starts, c.startsErr, topic, "log start offsets")
	if err != nil {
		return bindingOffsets{}, err
	}
	commits, commitsErr, err := c.groupCommits(group)
	if err != nil {
		return bindingOffsets{}, err
	}
	partitions := make(map[int32]partitionOffsets, len(ends))
	for p, end := range ends {
		start, ok := starts[p]
		if !ok {
			return bindingOffsets{}, fmt.Errorf("no log start offset for partition %d of topic %q", p, topic)
		}
		committed := noCommit
		if commit, ok := commits.Lookup(topic, p); ok {
			if commit.Err != nil {
				return bindingOffsets{}, fmt.Errorf("committed offset of group %q on partition %d of topic %q: %w", group, p, topic, commit.Err)
			}
			if commit.At >= 0 {
				committed = commit.At
			}
		}
		partitions[p] = partitionOffsets{highWatermark: end.Offset, logStart: start.Offset, committed: committed}
	}
	return bindingOffsets{partitions: partitions, commitsErr: commitsErr}, nil
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
		if p < 0 {
			return nil, topicError(topic, o.Err)
		}
		if errors.Is(o.Err, kerr.UnknownTopicOrPartition) {
			return nil, fmt.Errorf("listing %s of topic %q partition %d: the broker does not know it (topic deleted, or leadership moved): %w", what, topic, p, o.Err)
		}
		return nil, fmt.Errorf("listing %s of topic %q partition %d: %w", what, topic, p, o.Err)
	}
	return partitions, nil
}

// groupCommits returns the group's committed offsets. A group that never
// committed is the normal scale-from-zero case: Apache Kafka answers it with
// -1 offsets, some brokers with GROUP_ID_NOT_FOUND; both mean "no commit".
// A group the collector may not describe yields commitsErr, not an error:
// the binding degrades instead of going dark.
func (c clusterOffsets) groupCommits(group string) (commits kadm.OffsetResponses, commitsErr, err error) {
	resp, ok := c.commits[group]
	if !ok {
		return nil, nil, fmt.Errorf("no committed-offsets answer for group %q", group)
	}
	switch {
	case resp.Err == nil:
		return resp.Fetched, nil, nil
	case errors.Is(resp.Err, kerr.GroupIDNotFound):
		return nil, nil, nil
	case errors.Is(resp.Err, kerr.GroupAuthorizationFailed):
		return nil, fmt.Errorf("committed offsets of group %q are not authorized (grant Describe on the group): %w", group, resp.Err), nil
	default:
		return nil, nil, fmt.Errorf("reading committed offsets of group %q: %w", group, resp.Err)
	}
}
