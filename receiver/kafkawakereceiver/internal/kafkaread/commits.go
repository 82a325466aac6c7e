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
	return askCoordinators(ctx, r, groups,
		func(groups []string) *kmsg.OffsetFetchRequest {
			req := kmsg.NewPtrOffsetFetchRequest()
			req.Groups = make([]kmsg.OffsetFetchRequestGroup, len(groups))
			for i, g := range groups {
				req.Groups[i] = kmsg.NewOffsetFetchRequestGroup()
				req.Groups[i].Group = g
			}
			return req
		},
		func(resp *kmsg.OffsetFetchResponse, coordinator kgo.BrokerMetadata) bool {
			if resp.GetVersion() < firstOffsetFetchForManyGroups {
				// A broker too old to answer for several groups at once:
				// the client splits the requests from now on.
				r.shardedCommits.Store(true)
				return false
			}
			// A group is asked of one coordinator only: out holds the
			// groups this one answered.
			name := describeBroker(coordinator)
			for _, g := range resp.Groups {
				if _, seen := out[g.Group]; !seen && answeredDirectly(g) {
					out[g.Group] = groupOffsetsOf(g, name)
				}
			}
			return true
		},
		func(group string) bool { _, answered := out[group]; return answered },
		func(group string, coordinator kgo.BrokerMetadata, err error) {
			out[group] = groupFailure(group, describeBroker(coordinator), r.explain(err))
		})
}

// askCoordinators sends one request for groups to each of their known
// coordinators, all at once, and hands each answer to take, which keeps
// what it can and says whether the answer could be used at all. It looks no
// coordinator up. It returns the groups left for the client's sharded path,
// which retries and finds coordinators again: those whose coordinator is
// not known, could not be reached while time is left, or that take did not
// answer (a coordinator that moved, is loading or is unavailable). A
// coordinator that failed a group is forgotten, so that the next lookup
// finds it again. A coordinator that did not answer before the scrape's
// time ran out fails its groups through noTimeLeft.
func askCoordinators[Req kmsg.Request, Resp kmsg.Response](ctx context.Context, r *Reader, groups []string,
	request func(groups []string) Req,
	take func(resp Resp, coordinator kgo.BrokerMetadata) bool,
	answered func(group string) bool,
	noTimeLeft func(group string, coordinator kgo.BrokerMetadata, err error),
) (again []string) {
	byNode, brokers, again := r.coordinators.assign(groups)
	sent := make([]sentTo[Req, Resp], 0, len(byNode))
	for node, gs := range byNode {
		sent = append(sent, sentTo[Req, Resp]{broker: node, req: request(gs)})
	}
	sendEach(ctx, r.client, sent)
	for _, s := range sent {
		asked, coordinator := byNode[s.broker], brokers[s.broker]
		if s.err != nil && ctx.Err() != nil {
			for _, g := range asked {
				r.coordinators.forget(g)
				noTimeLeft(g, coordinator, s.err)
			}
			continue
		}
		// Unreachable for now, an unusable answer, or groups it did not
		// answer: the client's path retries, or says why.
		usable := s.err == nil && take(s.resp, coordinator)
		for _, g := range asked {
			if !usable || !answered(g) {
				r.coordinators.forget(g)
				again = append(again, g)
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
