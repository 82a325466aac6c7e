package kafkaread

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// GroupKind is the protocol a consumer group speaks, learnt from its
// describes: brokers answer a KIP-848 group's classic DescribeGroups with
// GROUP_ID_NOT_FOUND or as a group without members, so each kind must be
// described with its own API.
type GroupKind int

const (
	// KindUnknown: not learnt yet, or the group does not exist yet.
	KindUnknown GroupKind = iota
	// KindClassic: a classic group, described with DescribeGroups.
	KindClassic
	// KindConsumer: a KIP-848 consumer group, described with
	// ConsumerGroupDescribe.
	KindConsumer
	// KindShare: a share group (KIP-932), described with
	// ShareGroupDescribe. A binding names it as such: it is never learnt.
	KindShare
)

// GroupMembers is what a group's describes said of it.
type GroupMembers struct {
	// Kind is the kind the answer shows; KindUnknown for a group that does
	// not exist yet (it has 0 members) or that must be learnt again.
	Kind    GroupKind
	Members int
	// Err is set when the members could not be read.
	Err error
}

// Members describes the groups with the API of their kind, in one request
// per group coordinator per API: groups of a known kind with theirs, groups
// of unknown kind with both, in the same requests.
func (r *Reader) Members(ctx context.Context, kinds map[string]GroupKind) map[string]GroupMembers {
	var classic, consumer, share []string
	for g, kind := range kinds {
		switch kind {
		case KindShare:
			share = append(share, g)
			continue
		case KindClassic:
		default:
			consumer = append(consumer, g)
		}
		if kind != KindConsumer {
			classic = append(classic, g)
		}
	}
	var classicAnswers, consumerAnswers, shareAnswers map[string]groupAnswer
	var wg sync.WaitGroup
	wg.Go(func() { classicAnswers = r.describeClassic(ctx, classic) })
	wg.Go(func() { shareAnswers = r.describeShare(ctx, share) })
	consumerAnswers = r.describeConsumer(ctx, consumer)
	wg.Wait()

	out := make(map[string]GroupMembers, len(kinds))
	for g, kind := range kinds {
		c, k := classicAnswers[g], consumerAnswers[g]
		switch kind {
		case KindClassic:
			out[g] = c.as(KindClassic)
		case KindConsumer:
			out[g] = k.as(KindConsumer)
		case KindShare:
			out[g] = shareAnswers[g].share()
		default:
			out[g] = learn(c, k)
		}
	}
	return out
}

// groupAnswer is one API's answer for one group.
type groupAnswer struct {
	exists  bool // described, in a state other than Dead
	members int
	err     error
}

// as reads an answer of the API of kind: a group that no longer
// exists, or a classic group without members (which is also how brokers
// show a KIP-848 group there), is learnt again at the next observation.
func (a groupAnswer) as(kind GroupKind) GroupMembers {
	switch {
	case a.err != nil:
		return GroupMembers{Kind: kind, Err: a.err}
	case !a.exists || (kind == KindClassic && a.members == 0):
		return GroupMembers{Kind: KindUnknown, Members: a.members}
	}
	return GroupMembers{Kind: kind, Members: a.members}
}

// share reads a share group's answer: a group that does not exist yet has 0
// members and stays a share group.
func (a groupAnswer) share() GroupMembers {
	return GroupMembers{Kind: KindShare, Members: a.members, Err: a.err}
}

// learn reads a group of unknown kind from both answers.
func learn(classic, consumer groupAnswer) GroupMembers {
	switch {
	case consumer.err == nil && consumer.exists:
		return GroupMembers{Kind: KindConsumer, Members: consumer.members}
	case classic.err == nil && classic.exists && classic.members > 0:
		return GroupMembers{Kind: KindClassic, Members: classic.members}
	case classic.err == nil && (consumer.err == nil || errors.Is(consumer.err, kerr.UnsupportedVersion)):
		// Empty, or not there yet: 0 members.
		return GroupMembers{Kind: KindUnknown}
	}
	return GroupMembers{Err: cmpErr(consumer.err, classic.err)}
}

func cmpErr(errs ...error) error {
	for _, err := range errs {
		if err != nil && !errors.Is(err, kerr.UnsupportedVersion) {
			return err
		}
	}
	return errors.Join(errs...)
}

func (r *Reader) describeClassic(ctx context.Context, groups []string) map[string]groupAnswer {
	return describe(ctx, r, "DescribeGroups", groups,
		func(groups []string) *kmsg.DescribeGroupsRequest {
			req := kmsg.NewPtrDescribeGroupsRequest()
			req.Groups = groups
			return req
		},
		func(req *kmsg.DescribeGroupsRequest) []string { return req.Groups },
		func(resp *kmsg.DescribeGroupsResponse) []described {
			d := make([]described, len(resp.Groups))
			for i, g := range resp.Groups {
				d[i] = described{group: g.Group, code: g.ErrorCode, state: g.State, members: len(g.Members)}
			}
			return d
		})
}

func (r *Reader) describeConsumer(ctx context.Context, groups []string) map[string]groupAnswer {
	return describe(ctx, r, "ConsumerGroupDescribe", groups,
		func(groups []string) *kmsg.ConsumerGroupDescribeRequest {
			req := kmsg.NewPtrConsumerGroupDescribeRequest()
			req.Groups = groups
			return req
		},
		func(req *kmsg.ConsumerGroupDescribeRequest) []string { return req.Groups },
		func(resp *kmsg.ConsumerGroupDescribeResponse) []described {
			d := make([]described, len(resp.Groups))
			for i, g := range resp.Groups {
				d[i] = described{group: g.Group, code: g.ErrorCode, state: g.State, members: len(g.Members)}
			}
			return d
		})
}

func (r *Reader) describeShare(ctx context.Context, groups []string) map[string]groupAnswer {
	return describe(ctx, r, "ShareGroupDescribe", groups,
		func(groups []string) *kmsg.ShareGroupDescribeRequest {
			req := kmsg.NewPtrShareGroupDescribeRequest()
			req.GroupIDs = groups
			return req
		},
		func(req *kmsg.ShareGroupDescribeRequest) []string { return req.GroupIDs },
		func(resp *kmsg.ShareGroupDescribeResponse) []described {
			d := make([]described, len(resp.Groups))
			for i, g := range resp.Groups {
				d[i] = described{group: g.GroupID, code: g.ErrorCode, state: g.GroupState, members: len(g.Members)}
			}
			return d
		})
}

// describe describes groups with one API, in one request per coordinator:
// sent to the coordinators directly (describeDirect), and through the
// client's sharding for the groups left.
func describe[Req kmsg.Request, Resp kmsg.Response](ctx context.Context, r *Reader, api string, groups []string,
	request func([]string) Req, asked func(Req) []string, read func(Resp) []described,
) map[string]groupAnswer {
	out := make(map[string]groupAnswer, len(groups))
	if len(groups) == 0 {
		return out
	}
	if groups = describeDirect(ctx, r, api, groups, out, request, read); len(groups) == 0 {
		return out
	}
	for _, shard := range r.client.RequestSharded(ctx, request(groups)) {
		if shard.Err != nil {
			for _, g := range asked(shard.Req.(Req)) {
				out[g] = groupAnswer{err: describeError(g, api, shard.Meta, r.explain(shard.Err))}
			}
			continue
		}
		for _, d := range read(shard.Resp.(Resp)) {
			out[d.group] = answerOf(d.group, api, shard.Meta, d.code, d.state, d.members)
		}
	}
	return out
}

// described is one group of a describe's answer.
type described struct {
	group   string
	code    int16
	state   string
	members int
}

// describeDirect describes groups at the coordinators the committed
// offsets' read found (readGroupsDirect): through the client's sharding,
// each describe would look the coordinator of every group up again, a cost
// that grows with the groups on every scrape. It looks none up itself, so
// that a group whose coordinator cannot be found costs no more lookups than
// the offsets' read makes. It writes the answers it has into out and
// returns the groups left for the client's sharded path: those whose
// coordinator is not known (share groups, whose offsets the client reads,
// and any group in a scrape's first describes), could not be reached while
// time is left, or moved.
func describeDirect[Req kmsg.Request, Resp kmsg.Response](ctx context.Context, r *Reader, api string, groups []string, out map[string]groupAnswer,
	request func([]string) Req, read func(Resp) []described,
) (again []string) {
	return askCoordinators(ctx, r, groups, request,
		func(resp Resp, coordinator kgo.BrokerMetadata) bool {
			for _, d := range read(resp) {
				if !coordinatorMoved(d.code) {
					out[d.group] = answerOf(d.group, api, coordinator, d.code, d.state, d.members)
				}
			}
			return true
		},
		func(group string) bool { _, answered := out[group]; return answered },
		func(group string, coordinator kgo.BrokerMetadata, err error) {
			out[group] = groupAnswer{err: describeError(group, api, coordinator, r.explain(err))}
		})
}

// answerOf reads one group of a describe: a group that does not exist
// (GROUP_ID_NOT_FOUND, or Dead) is an answer, not an error.
func answerOf(group, api string, coordinator kgo.BrokerMetadata, code int16, state string, members int) groupAnswer {
	err := kerr.ErrorForCode(code)
	switch {
	case errors.Is(err, kerr.GroupIDNotFound):
		return groupAnswer{}
	case err != nil:
		return groupAnswer{err: describeError(group, api, coordinator, err)}
	case state == "Dead" || state == "":
		return groupAnswer{}
	}
	return groupAnswer{exists: true, members: members}
}

// describeError names the coordinator only when it is needed: the name is a
// formatted string, and describes answer for every group of every scrape.
func describeError(group, api string, coordinator kgo.BrokerMetadata, err error) error {
	if errors.Is(err, kerr.GroupAuthorizationFailed) {
		return fmt.Errorf("describing group %q is not authorized, so its members are unknown (grant Describe on the group): %w", group, err)
	}
	return fmt.Errorf("describing group %q (%s) on coordinator %s: %w", group, api, describeCoordinator(coordinator), err)
}

// describeCoordinator names the group coordinator a request went to.
func describeCoordinator(meta kgo.BrokerMetadata) string {
	if meta.NodeID < 0 {
		return "no coordinator (finding it failed)"
	}
	return describeBroker(meta)
}
