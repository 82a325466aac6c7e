package kafkaread // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/kafkaread"

import (
	"context"
	"errors"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// readGroups reads the committed offsets of groups with one OffsetFetch per
// group coordinator, sent to the coordinators directly. Sent through the
// client's sharding, every answer's topics would be looked up in the
// client's metadata cache and fetched into it when missing: a copy of every
// partition's replicas that nothing reads, about 16 MB at 100,000
// partitions. Groups whose coordinator is not known yet are found with one
// FindCoordinator request for all of them. A group that the direct path
// cannot read (its coordinator cannot be found or moved, is loading, or
// cannot be reached while time is left) is read again through the client,
// which retries and finds the coordinator again.
func (r *Reader) readGroups(ctx context.Context, groups []string) map[string]groupOffsets {
	out := make(map[string]groupOffsets, len(groups))
	if len(groups) == 0 {
		return out
	}
	if r.shardedCommits.Load() {
		r.readGroupsSharded(ctx, groups, out)
		return out
	}
	if again := r.readGroupsDirect(ctx, groups, out); len(again) > 0 {
		r.readGroupsSharded(ctx, again, out)
	}
	return out
}

// firstOffsetFetchForManyGroups is the first OffsetFetch version that asks
// for several groups in one request.
const firstOffsetFetchForManyGroups = 8

// readGroupsDirect reads what it can of groups into out and returns the
// groups left for the client's sharded path.
func (r *Reader) readGroupsDirect(ctx context.Context, groups []string, out map[string]groupOffsets) (again []string) {
	r.coordinators.lookUp(ctx, r.client, groups)
	byNode, brokers, again := r.coordinators.assign(groups)
	answers := make([]sentTo[*kmsg.OffsetFetchRequest, *kmsg.OffsetFetchResponse], 0, len(byNode))
	for node, gs := range byNode {
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Groups = make([]kmsg.OffsetFetchRequestGroup, len(gs))
		for i, g := range gs {
			req.Groups[i] = kmsg.NewOffsetFetchRequestGroup()
			req.Groups[i].Group = g
		}
		answers = append(answers, sentTo[*kmsg.OffsetFetchRequest, *kmsg.OffsetFetchResponse]{broker: node, req: req})
	}
	sendEach(ctx, r.client, answers)
	for _, a := range answers {
		coordinator := describeBroker(brokers[a.broker])
		switch {
		case a.err != nil && ctx.Err() != nil:
			// No time is left to ask again: the coordinator did not answer.
			// The next scrape finds it again, in case it moved.
			for _, g := range a.req.Groups {
				r.coordinators.forget(g.Group)
				out[g.Group] = groupFailure(g.Group, coordinator, r.explain(a.err))
			}
			continue
		case a.err != nil || a.resp.GetVersion() < firstOffsetFetchForManyGroups:
			// Unreachable for now, or a broker too old to answer for
			// several groups at once: the client splits the request.
			if a.err == nil {
				r.shardedCommits.Store(true)
			}
			for _, g := range a.req.Groups {
				r.coordinators.forget(g.Group)
				again = append(again, g.Group)
			}
			continue
		}
		// A group is asked of one coordinator only: out holds the groups
		// this one answered.
		for _, g := range a.resp.Groups {
			if _, seen := out[g.Group]; !seen && answeredDirectly(g) {
				out[g.Group] = groupOffsetsOf(g, coordinator)
			}
		}
		for _, g := range a.req.Groups {
			if _, answered := out[g.Group]; !answered {
				r.coordinators.forget(g.Group)
				again = append(again, g.Group)
			}
		}
	}
	return again
}

// answeredDirectly tells whether a group's answer from its coordinator is
// final: not a coordinator that moved, is loading or is unavailable, and
// with every topic named (a version that names topics by ID only would
// need the client's metadata to name them).
func answeredDirectly(g kmsg.OffsetFetchResponseGroup) bool {
	if coordinatorMoved(g.ErrorCode) {
		return false
	}
	for _, t := range g.Topics {
		if t.Topic == "" {
			return false
		}
	}
	return true
}

// coordinatorMoved tells whether a group's error code says to ask its
// coordinator again, after finding it again: it moved, is loading the
// group, or is not available.
func coordinatorMoved(code int16) bool {
	if code == 0 {
		return false
	}
	switch err := kerr.ErrorForCode(code); {
	case errors.Is(err, kerr.NotCoordinator), errors.Is(err, kerr.CoordinatorLoadInProgress), errors.Is(err, kerr.CoordinatorNotAvailable):
		return true
	}
	return false
}

// coordinatorCache remembers each group's coordinator between scrapes, so
// that a steady scrape sends no FindCoordinator. A group whose coordinator
// fails it is forgotten and found again on the next scrape.
type coordinatorCache struct {
	mu      sync.Mutex
	byGroup map[string]int32
	brokers map[int32]kgo.BrokerMetadata
}

// lookUp finds the coordinators of the groups not known yet, with one
// FindCoordinator request for all of them.
func (cc *coordinatorCache) lookUp(ctx context.Context, client *kgo.Client, groups []string) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	var missing []string
	for _, g := range groups {
		if _, ok := cc.byGroup[g]; !ok {
			missing = append(missing, g)
		}
	}
	if len(missing) > 0 {
		cc.find(ctx, client, missing)
	}
}

// assign groups the given groups by their known coordinator. It returns
// the groups whose coordinator is not known.
func (cc *coordinatorCache) assign(groups []string) (byNode map[int32][]string, brokers map[int32]kgo.BrokerMetadata, unknown []string) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	byNode = make(map[int32][]string)
	for _, g := range groups {
		if node, ok := cc.byGroup[g]; ok {
			byNode[node] = append(byNode[node], g)
		} else {
			unknown = append(unknown, g)
		}
	}
	brokers = make(map[int32]kgo.BrokerMetadata, len(byNode))
	for node := range byNode {
		brokers[node] = cc.brokers[node]
	}
	return byNode, brokers, unknown
}

// find asks for the coordinators of groups in one FindCoordinator request
// (the client splits it for brokers that take one group at a time). A group
// whose coordinator is not found stays unknown.
func (cc *coordinatorCache) find(ctx context.Context, client *kgo.Client, groups []string) {
	if cc.byGroup == nil {
		cc.byGroup, cc.brokers = make(map[string]int32), make(map[int32]kgo.BrokerMetadata)
	}
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorType = 0 // groups
	req.CoordinatorKeys = groups
	for _, shard := range client.RequestSharded(ctx, req) {
		if shard.Err != nil {
			continue
		}
		resp := shard.Resp.(*kmsg.FindCoordinatorResponse)
		found := resp.Coordinators
		if len(found) == 0 {
			// A broker older than batched lookups answers one key, at the top.
			one := kmsg.NewFindCoordinatorResponseCoordinator()
			one.Key, one.NodeID, one.Host, one.Port, one.ErrorCode = shard.Req.(*kmsg.FindCoordinatorRequest).CoordinatorKey, resp.NodeID, resp.Host, resp.Port, resp.ErrorCode
			found = []kmsg.FindCoordinatorResponseCoordinator{one}
		}
		for _, c := range found {
			if c.ErrorCode != 0 || c.NodeID < 0 {
				continue
			}
			cc.byGroup[c.Key] = c.NodeID
			cc.brokers[c.NodeID] = kgo.BrokerMetadata{NodeID: c.NodeID, Host: c.Host, Port: c.Port}
		}
	}
}

// forget drops a group's coordinator.
func (cc *coordinatorCache) forget(group string) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	delete(cc.byGroup, group)
}
