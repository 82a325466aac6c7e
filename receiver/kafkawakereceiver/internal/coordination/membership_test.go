package coordination

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// The smallest session timeout Kafka accepts by default; takeovers in these
// tests take about that long.
const (
	testSession   = 6 * time.Second
	testHeartbeat = 500 * time.Millisecond
	testGroup     = "kafkawake-replicas"
	// waitLimit bounds every wait; generous for a loaded machine.
	waitLimit = 4 * testSession
	pollEvery = 20 * time.Millisecond
)

// testKeys names n bindings, each waking a function of its own.
func testKeys(n int) []BindingKey {
	keys := make([]BindingKey, n)
	for i := range keys {
		keys[i] = BindingKey{Binding: fmt.Sprintf("binding-%d", i), Function: fmt.Sprintf("function-%d", i)}
	}
	return keys
}

// sharedFunctionKeys names n bindings, perFunction of them waking each
// function.
func sharedFunctionKeys(n, perFunction int) []BindingKey {
	keys := make([]BindingKey, n)
	for i := range keys {
		keys[i] = BindingKey{Binding: fmt.Sprintf("binding-%d", i), Function: fmt.Sprintf("function-%d", i/perFunction)}
	}
	return keys
}

type testGroupCluster struct {
	t       *testing.T
	cluster *kfake.Cluster
}

func newGroupCluster(t *testing.T) *testGroupCluster {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(3))
	require.NoError(t, err)
	t.Cleanup(cluster.Close)
	return &testGroupCluster{t: t, cluster: cluster}
}

// joinAsConsumer sends the JoinGroup of a consumer (protocol type
// "consumer") to the test group, as a new member, and returns the answer.
func (c *testGroupCluster) joinAsConsumer(t *testing.T) *kmsg.JoinGroupResponse {
	t.Helper()
	client, err := kgo.NewClient(kgo.SeedBrokers(c.cluster.ListenAddrs()...), kgo.DisableClientMetrics())
	require.NoError(t, err)
	defer client.Close()
	join := kmsg.NewPtrJoinGroupRequest()
	join.Group = testGroup
	join.SessionTimeoutMillis = int32(waitLimit.Milliseconds())
	join.RebalanceTimeoutMillis = join.SessionTimeoutMillis
	join.ProtocolType = "consumer"
	protocol := kmsg.NewJoinGroupRequestProtocol()
	protocol.Name = "range"
	join.Protocols = append(join.Protocols, protocol)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	resp, err := join.RequestWith(ctx, client)
	require.NoError(t, err)
	if resp.ErrorCode == kerr.MemberIDRequired.Code {
		// Kafka hands out the member id on a first join.
		join.MemberID = resp.MemberID
		resp, err = join.RequestWith(ctx, client)
		require.NoError(t, err)
	}
	return resp
}

// testMember is one replica: its own client, membership and logs.
type testMember struct {
	name       string
	membership *Membership
	logs       *observer.ObservedLogs
	stop       func()
}

// start runs a member whose client id, and so member id prefix, is name.
func (c *testGroupCluster) start(name string, keys []BindingKey) *testMember {
	c.t.Helper()
	return c.startOver(name, keys, func(client *kgo.Client) kmsg.Requestor { return client })
}

// startOver runs a member whose requests go through the requestor that wrap
// makes of its client.
func (c *testGroupCluster) startOver(name string, keys []BindingKey, wrap func(*kgo.Client) kmsg.Requestor) *testMember {
	c.t.Helper()
	client, err := kgo.NewClient(kgo.SeedBrokers(c.cluster.ListenAddrs()...), kgo.ClientID(name), kgo.DisableClientMetrics())
	require.NoError(c.t, err)
	core, logs := observer.New(zapcore.InfoLevel)
	m := New(wrap(client), Config{Group: testGroup, SessionTimeout: testSession, HeartbeatInterval: testHeartbeat, Bindings: keys}, zap.New(core), time.Now)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.Run(ctx)
	}()
	var once sync.Once
	tm := &testMember{name: name, membership: m, logs: logs}
	tm.stop = func() {
		once.Do(func() {
			cancel()
			<-done
			client.Close()
		})
	}
	c.t.Cleanup(tm.stop)
	return tm
}

func (m *testMember) owned() []int {
	_, indexes := m.membership.Owned()
	return indexes
}

// split checks that the members own every one of n bindings exactly once,
// each member something.
func split(members []*testMember, n int) error {
	owner := map[int]string{}
	for _, m := range members {
		owned := m.owned()
		if len(owned) == 0 {
			return fmt.Errorf("%s owns nothing", m.name)
		}
		for _, i := range owned {
			if prev, dup := owner[i]; dup {
				return fmt.Errorf("binding %d owned by %s and %s", i, prev, m.name)
			}
			owner[i] = m.name
		}
	}
	if len(owner) != n {
		return fmt.Errorf("%d of %d bindings owned", len(owner), n)
	}
	return nil
}

func requireSplit(t *testing.T, members []*testMember, n int) {
	t.Helper()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.NoError(c, split(members, n), "bindings not split among the members")
	}, waitLimit, pollEvery)
}

func TestMembersSplitTheBindingsAndALeaveMovesThemAtOnce(t *testing.T) {
	t.Parallel()
	c := newGroupCluster(t)
	keys := testKeys(60)
	a := c.start("member-a", keys)
	requireSplit(t, []*testMember{a}, len(keys))
	b := c.start("member-b", keys)
	cm := c.start("member-c", keys)
	requireSplit(t, []*testMember{a, b, cm}, len(keys))
	ownedByB := b.owned()

	left := time.Now()
	b.stop()
	assert.Nil(t, b.owned(), "a member that left owns nothing")
	requireSplit(t, []*testMember{a, cm}, len(keys))
	assert.Less(t, time.Since(left), testSession, "a leave moves the bindings without waiting for the session to time out")

	moved := a.logs.FilterMessage("Binding assignment changed").All()
	require.NotEmpty(t, moved)
	last := moved[len(moved)-1].ContextMap()
	assert.EqualValues(t, len(a.owned()), last["bindings"])
	assert.Positive(t, last["moved_in"], "a takes some of b's %d bindings", len(ownedByB))
}

func TestAStuckMemberFencesItselfBeforeOthersTakeOver(t *testing.T) {
	t.Parallel()
	c := newGroupCluster(t)
	keys := testKeys(40)
	a := c.start("member-a", keys)
	b := c.start("member-b", keys)
	requireSplit(t, []*testMember{a, b}, len(keys))

	stuck := c.cluster.Fault(kfake.Fault{
		Keys:  []kmsg.Key{kmsg.Heartbeat},
		Err:   kerr.UnknownServerError,
		Count: -1,
		When: func(req kmsg.Request) bool {
			return strings.HasPrefix(req.(*kmsg.HeartbeatRequest).MemberID, "member-b-")
		},
	})
	// Until a owns everything, no binding may have two owners.
	require.Eventually(t, func() bool {
		aOwns, bOwns := a.owned(), b.owned()
		for _, i := range aOwns {
			require.NotContains(t, bOwns, i, "binding %d owned by both members", i)
		}
		return len(aOwns) == len(keys)
	}, waitLimit, pollEvery)
	assert.Nil(t, b.owned())
	assert.NotEmpty(t, b.logs.FilterMessageSnippet("Stopped observing the assigned bindings").All())

	// Once heartbeats get through again, b learns it was evicted and rejoins.
	stuck.Remove()
	requireSplit(t, []*testMember{a, b}, len(keys))
}

func TestMembersFollowTheCoordinatorWhenItMoves(t *testing.T) {
	t.Parallel()
	c := newGroupCluster(t)
	keys := testKeys(30)
	a := c.start("member-a", keys)
	b := c.start("member-b", keys)
	requireSplit(t, []*testMember{a, b}, len(keys))

	before := c.cluster.CoordinatorFor(testGroup)
	for c.cluster.CoordinatorFor(testGroup) == before {
		c.cluster.RehashCoordinators()
	}
	after := c.cluster.CoordinatorFor(testGroup)
	answered := c.cluster.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Heartbeat}, Nodes: []int32{after}, Observe: true, Count: -1})
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	require.NoError(t, answered.Wait(ctx, 4), "heartbeats reach the new coordinator")
	require.NoError(t, split([]*testMember{a, b}, len(keys)))

	// The group still rebalances at its new coordinator.
	cm := c.start("member-c", keys)
	requireSplit(t, []*testMember{a, b, cm}, len(keys))
	for _, m := range []*testMember{a, b, cm} {
		assert.Empty(t, m.logs.FilterMessageSnippet("Stopped observing").All(), "%s was fenced", m.name)
	}
}

func TestABurstOfJoinsAndLeavesSettles(t *testing.T) {
	t.Parallel()
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	c := newGroupCluster(t)
	keys := testKeys(100)

	var live []*testMember
	for i := range 4 {
		live = append(live, c.start(fmt.Sprintf("member-%d", i), keys))
	}
	for i := 4; i < 10; i++ {
		if rng.IntN(2) == 0 && len(live) > 1 {
			k := rng.IntN(len(live))
			live[k].stop()
			live = append(live[:k], live[k+1:]...)
		} else {
			live = append(live, c.start(fmt.Sprintf("member-%d", i), keys))
		}
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
	}
	requireSplit(t, live, len(keys))
}

func TestMembersWithDifferentBindingsShareWhatTheyHave(t *testing.T) {
	t.Parallel()
	c := newGroupCluster(t)
	all := testKeys(30)
	a := c.start("member-a", all)
	b := c.start("member-b", all[:20])
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		owned := map[int]string{}
		for _, i := range a.owned() {
			owned[i] = "a"
		}
		for _, i := range b.owned() {
			assert.Empty(c, owned[i], "binding %d owned twice", i)
			owned[i] = "b"
		}
		assert.Len(c, owned, len(all))
		assert.NotEmpty(c, b.owned())
	}, waitLimit, pollEvery)
	for _, i := range b.owned() {
		assert.Less(t, i, 20, "b owns only bindings it configures")
	}
	leader := append(a.logs.FilterMessageSnippet("configure different bindings").All(),
		b.logs.FilterMessageSnippet("configure different bindings").All()...)
	require.NotEmpty(t, leader, "the leader reports the mismatch")
	assert.EqualValues(t, 10, leader[len(leader)-1].ContextMap()["bindings_missing"])
}

func TestAConsumerCannotJoinTheCoordinationGroup(t *testing.T) {
	t.Parallel()
	c := newGroupCluster(t)
	a := c.start("member-a", testKeys(5))
	requireSplit(t, []*testMember{a}, 5)

	resp := c.joinAsConsumer(t)
	assert.Equal(t, kerr.InconsistentGroupProtocol.Code, resp.ErrorCode)
}

// In a stable group a member sends one Heartbeat per interval and nothing
// else but the handshake of a new connection.
func TestAStableGroupCostsOneHeartbeatPerMemberPerInterval(t *testing.T) {
	t.Parallel()
	c := newGroupCluster(t)
	keys := testKeys(30)
	members := []*testMember{c.start("member-a", keys), c.start("member-b", keys), c.start("member-c", keys)}
	requireSplit(t, members, len(keys))

	const window = 4 * time.Second
	var mu sync.Mutex
	keysSeen := map[string]int{}
	all := c.cluster.Fault(kfake.Fault{Observe: true, Count: -1, When: func(r kmsg.Request) bool {
		mu.Lock()
		keysSeen[kmsg.NameForKey(r.Key())]++
		mu.Unlock()
		return true
	}})
	heartbeats := c.cluster.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Heartbeat}, Observe: true, Count: -1})
	time.Sleep(window)
	total, beats := all.Hits(), heartbeats.Hits()
	all.Remove()
	heartbeats.Remove()
	require.NoError(t, split(members, len(keys)), "the group stayed stable")

	perSecond := float64(total) / float64(len(members)) / window.Seconds()
	mu.Lock()
	t.Logf("%.2f requests per member per second (heartbeat_interval %s), %d of %d heartbeats: %v", perSecond, testHeartbeat, beats, total, keysSeen)
	mu.Unlock()
	mu.Lock()
	assert.Equal(t, total-keysSeen["ApiVersions"], beats, "a stable member sends only heartbeats, besides connection handshakes")
	mu.Unlock()
	assert.LessOrEqual(t, perSecond, 1.25/testHeartbeat.Seconds())
	assert.Positive(t, beats)
}

func TestAMemberDeniedTheGroupOwnsNothingAndSaysWhatToGrant(t *testing.T) {
	t.Parallel()
	c := newGroupCluster(t)
	denied := c.cluster.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.JoinGroup}, Group: testGroup, Err: kerr.GroupAuthorizationFailed, Count: -1})
	a := c.start("member-a", testKeys(5))
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	require.NoError(t, denied.Wait(ctx, 2), "the member retries its join")
	assert.Nil(t, a.owned())
	warnings := a.logs.FilterMessageSnippet("Cannot reach the coordination group").All()
	require.Len(t, warnings, 1, "a lasting failure is logged once")
	assert.Contains(t, warnings[0].ContextMap()["error"], "grant this replica's principal Read and Describe on the coordination group")

	denied.Remove()
	requireSplit(t, []*testMember{a}, 5)
}

// A coordination group that a consumer already uses is never joined: the
// consumer keeps its group, and the member says what to rename.
func TestAMemberNeverJoinsAGroupAConsumerUses(t *testing.T) {
	t.Parallel()
	c := newGroupCluster(t)
	resp := c.joinAsConsumer(t)
	require.Zero(t, resp.ErrorCode, "the consumer is in its group")

	joins := c.cluster.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.JoinGroup}, Group: testGroup, Observe: true, Count: -1})
	describes := c.cluster.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.DescribeGroups}, Observe: true, Count: -1})
	a := c.start("member-a", testKeys(5))
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	require.NoError(t, describes.Wait(ctx, 2), "the member checks again every heartbeat interval")
	assert.Zero(t, joins.Hits(), "the member never joins the consumer's group")
	assert.Nil(t, a.owned())
	warnings := a.logs.FilterMessageSnippet("Cannot reach the coordination group").All()
	require.Len(t, warnings, 1)
	assert.Contains(t, warnings[0].ContextMap()["error"], `group "kafkawake-replicas" has protocol type "consumer"`)
	assert.Contains(t, warnings[0].ContextMap()["error"], "rename coordination.group")
}

// olderReplica joins offering only the bindings protocol, as a kafkawake
// from before functions were the unit of ownership does.
type olderReplica struct{ *kgo.Client }

func (r olderReplica) Request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	if join, ok := req.(*kmsg.JoinGroupRequest); ok {
		join.Protocols = slices.DeleteFunc(slices.Clone(join.Protocols), func(p kmsg.JoinGroupRequestProtocol) bool {
			return p.Name != bindingsProtocol
		})
	}
	return r.Client.Request(ctx, req)
}

// functionSplit checks that every function's bindings have one owner among
// the members.
func functionSplit(members []*testMember, keys []BindingKey) error {
	if err := split(members, len(keys)); err != nil {
		return err
	}
	owner := map[string]string{}
	for _, m := range members {
		for _, i := range m.owned() {
			f := keys[i].Function
			if prev, seen := owner[f]; seen && prev != m.name {
				return fmt.Errorf("%s owned by %s and %s", f, prev, m.name)
			}
			owner[f] = m.name
		}
	}
	return nil
}

func TestAllBindingsOfAFunctionHaveOneOwner(t *testing.T) {
	t.Parallel()
	c := newGroupCluster(t)
	keys := sharedFunctionKeys(60, 3)
	members := []*testMember{c.start("member-a", keys), c.start("member-b", keys), c.start("member-c", keys)}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.NoError(c, functionSplit(members, keys))
	}, waitLimit, pollEvery)
}

// While a replica of an older kafkawake is a member, the group shares
// bindings one by one, and says so; once it is gone, functions again.
func TestAGroupWithAnOlderReplicaFallsBackToBindingsAndSaysSo(t *testing.T) {
	t.Parallel()
	c := newGroupCluster(t)
	keys := sharedFunctionKeys(40, 2)
	a := c.start("member-a", keys)
	older := c.startOver("member-older", keys, func(client *kgo.Client) kmsg.Requestor { return olderReplica{client} })
	requireSplit(t, []*testMember{a, older}, len(keys))
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.NotEmpty(c, a.logs.FilterMessageSnippet("A replica of an older kafkawake is in the coordination group").All())
	}, waitLimit, pollEvery)

	b := c.start("member-b", keys)
	older.stop()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.NoError(c, functionSplit([]*testMember{a, b}, keys))
		assert.NotEmpty(c, a.logs.FilterMessageSnippet("each function is owned by one replica again").All())
	}, waitLimit, pollEvery)
}
