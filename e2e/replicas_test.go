//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkawake/kafkawake/internal/collectortest"
	"github.com/kafkawake/kafkawake/internal/slimfaastest"
)

const (
	replicaInterval  = 500 * time.Millisecond
	replicaSession   = 6 * time.Second
	replicaHeartbeat = 500 * time.Millisecond
	replicaFunctions = 9
	// slack covers process scheduling, the test's own polling and the
	// exporter on a loaded machine; the figures are logged unpadded.
	slack = 3 * time.Second
)

// replica is one collector of the coordination group.
type replica struct {
	name string
	*collectortest.Collector
}

func replicaConfig(brokers []string, wakeURL string, metricsPort int) string {
	var bindings strings.Builder
	for i := range replicaFunctions {
		fmt.Fprintf(&bindings, "      - {topic: orders, consumer_group: g%d, function: f%d}\n", i, i)
	}
	receiverKeys := fmt.Sprintf(`
    collection_interval: %s
    coordination:
      group: kafkawake-replicas
      session_timeout: %s
      heartbeat_interval: %s`, replicaInterval, replicaSession, replicaHeartbeat)
	return collectorConfigWith(brokers, wakeURL, metricsPort, receiverKeys, `
    metric_expiration: 2s`, strings.TrimSuffix(bindings.String(), "\n"))
}

// exported returns the functions whose pending series the replica exports;
// nil when it does not answer (not up yet, or gone).
func (r *replica) exported(ctx context.Context) map[string]bool {
	samples, err := r.Scrape(ctx)
	if err != nil {
		return nil
	}
	out := map[string]bool{}
	for _, s := range samples {
		if s.Name == "slimfaaskafka_pending_messages" {
			out[s.Labels["function"]] = true
		}
	}
	return out
}

// owners maps every function to the replicas exporting it.
func owners(ctx context.Context, replicas []*replica) map[string][]string {
	out := map[string][]string{}
	for _, r := range replicas {
		for fn := range r.exported(ctx) {
			out[fn] = append(out[fn], r.name)
		}
	}
	return out
}

// waitForSplit waits until every function is exported by exactly one of the
// replicas and each replica exports some, and returns who owns what.
func waitForSplit(ctx context.Context, t *testing.T, replicas []*replica, limit time.Duration) map[string]string {
	t.Helper()
	var last map[string][]string
	var split map[string]string
	require.Eventually(t, func() bool {
		last = owners(ctx, replicas)
		split = map[string]string{}
		perReplica := map[string]int{}
		for fn, rs := range last {
			if len(rs) != 1 {
				return false
			}
			split[fn] = rs[0]
			perReplica[rs[0]]++
		}
		return len(split) == replicaFunctions && len(perReplica) == len(replicas)
	}, limit, 100*time.Millisecond, "bindings not split without overlap among %d replicas: %v", len(replicas), last)
	return split
}

// waitForTakeover waits until the survivors export every function and
// returns how long that took since `since`.
func waitForTakeover(ctx context.Context, t *testing.T, survivors []*replica, since time.Time, limit time.Duration) time.Duration {
	t.Helper()
	var last map[string][]string
	require.Eventually(t, func() bool {
		last = owners(ctx, survivors)
		return len(last) == replicaFunctions
	}, limit, 50*time.Millisecond, "the survivors did not take every binding over: %v", last)
	return time.Since(since)
}

// newWakes returns the wakes counted since before.
func newWakes(before, after map[string]int) map[string]int {
	out := map[string]int{}
	for fn, n := range after {
		if d := n - before[fn]; d > 0 {
			out[fn] = d
		}
	}
	return out
}

func ownedBy(split map[string]string, name string) []string {
	var fns []string
	for fn, owner := range split {
		if owner == name {
			fns = append(fns, fn)
		}
	}
	slices.Sort(fns)
	return fns
}

// movedBetween lists the functions whose owner differs between two splits.
func movedBetween(before, after map[string]string) []string {
	var fns []string
	for fn, owner := range after {
		if before[fn] != owner {
			fns = append(fns, fn)
		}
	}
	slices.Sort(fns)
	return fns
}

// wakeLedger remembers, per running replica, the functions it woke: its
// processor keeps their cooldown.
type wakeLedger map[string]map[string]bool

// checkMovedWakes checks the wakes of a rebalance from one split to the
// next: none for a function that stayed, one for a function that moved to
// a replica that never woke it, at most one for a function that came back
// to a replica whose processor may still hold the cooldown of an earlier
// wake. Then it records who woke what.
func (l wakeLedger) checkMovedWakes(t *testing.T, wakes map[string]int, from, to map[string]string, phase string) {
	t.Helper()
	moved := movedBetween(from, to)
	for fn, n := range wakes {
		assert.Contains(t, moved, fn, "%s: %s was woken %d times but did not move", phase, fn, n)
	}
	for _, fn := range moved {
		owner := to[fn]
		if l[owner][fn] {
			assert.LessOrEqual(t, wakes[fn], 1, "%s: %s woken more than once", phase, fn)
		} else {
			assert.Equal(t, 1, wakes[fn], "%s: %s moved to %s, which must wake it once", phase, fn, owner)
		}
		if l[owner] == nil {
			l[owner] = map[string]bool{}
		}
		l[owner][fn] = true
	}
	require.False(t, t.Failed(), "%s: wakes %v after moving %v", phase, wakes, moved)
}

func TestReplicasShareTheBindingsAndTakeOver(t *testing.T) {
	cluster := newOrdersCluster(t, 3, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	wakes := slimfaastest.New(t)
	wakeURL := wakes.URL
	start := func(name string) *replica {
		port := freePort(t)
		return &replica{name: name, Collector: startCollector(t, replicaConfig(cluster.ListenAddrs(), wakeURL, port), port)}
	}
	a, b, c := start("a"), start("b"), start("c")
	split := waitForSplit(ctx, t, []*replica{a, b, c}, time.Minute)
	t.Logf("split: a %v, b %v, c %v", ownedBy(split, "a"), ownedBy(split, "b"), ownedBy(split, "c"))
	require.Empty(t, wakes.Wakes(), "nothing was pending yet")

	// One message makes every binding pending: each owner wakes its own.
	producer, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.DisableClientMetrics())
	require.NoError(t, err)
	defer producer.Close()
	require.NoError(t, producer.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("order")}).FirstErr())
	all := slices.Sorted(maps.Keys(split))
	require.Eventually(t, func() bool { return len(wakes.Wakes()) == replicaFunctions }, time.Minute, 100*time.Millisecond)
	time.Sleep(4 * replicaInterval)
	ledger := wakeLedger{}
	ledger.checkMovedWakes(t, wakes.Wakes(), map[string]string{}, split, "three replicas")

	// SIGKILL: c's session has to time out before a and b take its share;
	// they report it as soon as their next heartbeat brings the new
	// assignment, so within session_timeout and one interval (the heartbeat
	// is no longer than the interval here).
	before := wakes.Wakes()
	killed := time.Now()
	c.Kill()
	delete(ledger, "c")
	took := waitForTakeover(ctx, t, []*replica{a, b}, killed, replicaSession+replicaInterval+slack)
	t.Logf("takeover after SIGKILL: %s (session_timeout %s, collection_interval %s)", took.Round(10*time.Millisecond), replicaSession, replicaInterval)
	assert.Greater(t, took, replicaSession*4/5, "the bindings of a killed replica wait for its session to time out")
	after := waitForSplit(ctx, t, []*replica{a, b}, time.Minute)
	assert.Subset(t, movedBetween(split, after), ownedBy(split, "c"))
	time.Sleep(4 * replicaInterval)
	ledger.checkMovedWakes(t, newWakes(before, wakes.Wakes()), split, after, "after SIGKILL")
	split = after

	// SIGTERM: b leaves the group and a takes its share at its next
	// heartbeat, within two intervals.
	before = wakes.Wakes()
	stopped := time.Now()
	require.NoError(t, b.Stop(15*time.Second))
	delete(ledger, "b")
	took = waitForTakeover(ctx, t, []*replica{a}, stopped, 2*replicaInterval+slack)
	t.Logf("takeover after SIGTERM: %s (heartbeat_interval %s, collection_interval %s)", took.Round(10*time.Millisecond), replicaHeartbeat, replicaInterval)
	time.Sleep(4 * replicaInterval)
	after = map[string]string{}
	for _, fn := range all {
		after[fn] = "a"
	}
	ledger.checkMovedWakes(t, newWakes(before, wakes.Wakes()), split, after, "after SIGTERM")
	split = after

	// Restart the two, one after the other: only the bindings that move are
	// woken, at most once each, by their new owner.
	live := []*replica{a}
	for _, name := range []string{"c", "b"} {
		before = wakes.Wakes()
		live = append(live, start(name))
		after = waitForSplit(ctx, t, live, time.Minute)
		time.Sleep(4 * replicaInterval)
		ledger.checkMovedWakes(t, newWakes(before, wakes.Wakes()), split, after, "after restarting "+name)
		split = after
	}
}
