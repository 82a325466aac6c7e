//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkawake/kafkawake/internal/collectortest"
	"github.com/kafkawake/kafkawake/internal/exposition"
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
	return replicaConfigWith(brokers, wakeURL, metricsPort, "all", time.Hour)
}

// replicaConfigWith is replicaConfig with coordination.report and the
// processor's cooldown.
func replicaConfigWith(brokers []string, wakeURL string, metricsPort int, report string, cooldown time.Duration) string {
	var bindings strings.Builder
	for i := range replicaFunctions {
		fmt.Fprintf(&bindings, "      - {topic: orders, consumer_group: g%d, function: f%d}\n", i, i)
	}
	receiverKeys := fmt.Sprintf(`
    collection_interval: %s
    coordination:
      group: kafkawake-replicas
      session_timeout: %s
      heartbeat_interval: %s
      report: %s`, replicaInterval, replicaSession, replicaHeartbeat, report)
	config := collectorConfigWith(brokers, wakeURL, metricsPort, receiverKeys, `
    metric_expiration: 2s`, strings.TrimSuffix(bindings.String(), "\n"))
	return strings.Replace(config, "cooldown: 1h", "cooldown: "+cooldown.String(), 1)
}

// exported returns the functions the replica owns, by their
// slimfaaskafka_binding_owned series; nil when it does not answer (not up
// yet, or gone). With report: all a replica exports every function's
// pending series, owned or not.
func (r *replica) exported(ctx context.Context) map[string]bool {
	samples, err := r.Scrape(ctx)
	if err != nil {
		return nil
	}
	out := map[string]bool{}
	for _, s := range samples {
		if s.Name == "slimfaaskafka_binding_owned" && s.Value == 1 {
			out[s.Labels["function"]] = true
		}
	}
	return out
}

// roundRobin is one URL in front of the replicas' exporters that sends each
// request to the next replica, as a Kubernetes Service reaches one pod per
// scrape.
func roundRobin(t *testing.T, replicas ...*replica) string {
	t.Helper()
	var next atomic.Uint64
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		target, err := url.Parse(replicas[next.Add(1)%uint64(len(replicas))].MetricsURL())
		if err != nil {
			panic(err)
		}
		r.SetURL(target)
		r.Out.URL.Path = target.Path
	}}
	server := httptest.NewServer(proxy)
	t.Cleanup(server.Close)
	return server.URL + "/metrics"
}

// owners maps every function to the replicas that own it.
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

// consumeOneOnWake makes each woken function fN commit offset 1 of its
// group gN, as a function that read one message would.
func consumeOneOnWake(t *testing.T, wakes *slimfaastest.Server, adm *kadm.Client) {
	wakes.OnEachCall(t, func(call slimfaastest.Call) {
		var offsets kadm.Offsets
		offsets.Add(kadm.Offset{Topic: "orders", Partition: 0, At: 1, LeaderEpoch: -1})
		_, _ = adm.CommitOffsets(context.Background(), "g"+strings.TrimPrefix(call.Function, "f"), offsets)
	})
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

// wakeLedger remembers, per replica, the functions whose cooldown its
// processor holds: those it woke, and with report: all those another
// replica woke while it was running, once it saw the function consume. The
// woken function commits offset 1 on every wake, so only the first wake
// moves the group: a replica started after it never sees consumption, holds
// only the wakes it made itself, and wakes a function that moves to it (as
// far as it can tell, the former owner may have died before its wake).
type wakeLedger map[string]map[string]bool

func (l wakeLedger) hold(replica string, fns ...string) {
	if l[replica] == nil {
		l[replica] = map[string]bool{}
	}
	for _, fn := range fns {
		l[replica][fn] = true
	}
}

// checkMovedWakes checks the wakes of a rebalance from one split to the
// next: none for a function that stayed, none for a function that moved to
// a replica that holds its cooldown, exactly one for a function that moved
// to a replica that does not. The new owner then holds the cooldown of the
// wake it made.
func (l wakeLedger) checkMovedWakes(t *testing.T, wakes map[string]int, from, to map[string]string, phase string) {
	t.Helper()
	moved := movedBetween(from, to)
	for fn, n := range wakes {
		assert.Contains(t, moved, fn, "%s: %s was woken %d times but did not move", phase, fn, n)
	}
	for _, fn := range moved {
		owner := to[fn]
		if l[owner][fn] {
			assert.Zero(t, wakes[fn], "%s: %s moved to %s, which holds its cooldown", phase, fn, owner)
		} else {
			assert.Equal(t, 1, wakes[fn], "%s: %s moved to %s, which must wake it once", phase, fn, owner)
		}
	}
	for fn := range wakes {
		l.hold(to[fn], fn)
	}
	require.False(t, t.Failed(), "%s: wakes %v after moving %v", phase, wakes, moved)
}

// requireEveryBindingThrough scrapes the round-robin URL once per replica
// and requires each answer to hold every function's pending series with
// the truth.
func requireEveryBindingThrough(ctx context.Context, t *testing.T, service string, replicas int, pending float64) {
	t.Helper()
	for range 2 * replicas {
		samples, err := exposition.Scrape(ctx, http.DefaultClient, service)
		require.NoError(t, err)
		seen := map[string]float64{}
		for _, s := range samples {
			if s.Name == "slimfaaskafka_pending_messages" {
				seen[s.Labels["function"]] = s.Value
			}
		}
		require.Len(t, seen, replicaFunctions, "one scrape through the Service answers for every binding: %v", seen)
		for fn, v := range seen {
			require.Equal(t, pending, v, "pending of %s", fn)
		}
	}
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
	service := roundRobin(t, a, b, c)
	requireEveryBindingThrough(ctx, t, service, 3, 0)

	// Two messages make every binding pending: each owner wakes its own,
	// and the woken function reads one of them and stays there, so the
	// truth is one pending message per binding, and every replica has seen
	// the consumption that shows the wake happened.
	producer, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.DisableClientMetrics())
	require.NoError(t, err)
	defer producer.Close()
	consumeOneOnWake(t, wakes, kadm.NewClient(producer))
	require.NoError(t, producer.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("order")}, &kgo.Record{Topic: "orders", Value: []byte("order")}).FirstErr())
	all := slices.Sorted(maps.Keys(split))
	require.Eventually(t, func() bool { return len(wakes.Wakes()) == replicaFunctions }, time.Minute, 100*time.Millisecond)
	time.Sleep(4 * replicaInterval)
	requireEveryBindingThrough(ctx, t, service, 3, 1)
	ledger := wakeLedger{}
	ledger.checkMovedWakes(t, wakes.Wakes(), map[string]string{}, split, "three replicas")
	for _, name := range []string{"a", "b", "c"} {
		ledger.hold(name, all...) // each saw every function consume after its wake
	}

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
	requireEveryBindingThrough(ctx, t, roundRobin(t, live...), len(live), 1)
}

// firstWakesAfter waits until every one of fns was woken after since, and
// returns how long after since the last of those first wakes came.
func firstWakesAfter(t *testing.T, wakes *slimfaastest.Server, fns []string, since time.Time, limit time.Duration) time.Duration {
	t.Helper()
	var latest time.Duration
	require.Eventually(t, func() bool {
		first := map[string]time.Duration{}
		for _, call := range wakes.Calls() {
			if call.At.After(since) && slices.Contains(fns, call.Function) {
				if _, seen := first[call.Function]; !seen {
					first[call.Function] = call.At.Sub(since)
				}
			}
		}
		if len(first) < len(fns) {
			return false
		}
		latest = slices.Max(slices.Collect(maps.Values(first)))
		return true
	}, limit, 20*time.Millisecond, "not every function of the replica that left was woken by the survivor")
	return latest
}

// With a cooldown of 0 every owner wakes its pending functions at each
// observation, so the first wake of a moved function after its owner
// leaves times the takeover all the way to SlimFaas. Both report modes are
// timed, after SIGKILL and after SIGTERM: with report: all the survivor
// already observes the moved bindings; with report: owned it reads them
// first.
func TestFirstWakeAfterATakeover(t *testing.T) {
	for _, report := range []string{"all", "owned"} {
		t.Run(report, func(t *testing.T) {
			cluster := newOrdersCluster(t, 3, 1)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			wakes := slimfaastest.New(t)
			start := func(name string) *replica {
				port := freePort(t)
				return &replica{name: name, Collector: startCollector(t, replicaConfigWith(cluster.ListenAddrs(), wakes.URL, port, report, 0), port)}
			}
			producer, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.DisableClientMetrics())
			require.NoError(t, err)
			defer producer.Close()
			require.NoError(t, producer.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("order")}).FirstErr())

			a, b := start("a"), start("b")
			split := waitForSplit(ctx, t, []*replica{a, b}, time.Minute)
			killed := time.Now()
			b.Kill()
			took := firstWakesAfter(t, wakes, ownedBy(split, "b"), killed, replicaSession+replicaInterval+slack)
			t.Logf("first wake after SIGKILL with report: %s: %s (session_timeout %s, collection_interval %s)", report, took.Round(10*time.Millisecond), replicaSession, replicaInterval)

			b = start("b")
			split = waitForSplit(ctx, t, []*replica{a, b}, time.Minute)
			stopped := time.Now()
			require.NoError(t, b.Stop(15*time.Second))
			took = firstWakesAfter(t, wakes, ownedBy(split, "b"), stopped, 2*replicaInterval+slack)
			t.Logf("first wake after SIGTERM with report: %s: %s (heartbeat_interval %s, collection_interval %s)", report, took.Round(10*time.Millisecond), replicaHeartbeat, replicaInterval)
		})
	}
}

// A function read by two consumer groups is owned, with both its bindings,
// by one replica: only that replica calls SlimFaas for it, and the wakes
// SlimFaas receives are the owner's wakeups_total, the other's being 0.
func TestAFunctionWithSeveralBindingsIsWokenByOneReplica(t *testing.T) {
	const functions = 6
	cluster := newOrdersCluster(t, 3, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	wakes := slimfaastest.New(t)
	var bindings strings.Builder
	for i := range functions {
		fmt.Fprintf(&bindings, "      - {topic: orders, consumer_group: billing%d, function: f%d}\n", i, i)
		fmt.Fprintf(&bindings, "      - {topic: orders, consumer_group: audit%d, function: f%d}\n", i, i)
	}
	receiverKeys := fmt.Sprintf(`
    collection_interval: %s
    coordination:
      group: kafkawake-replicas
      session_timeout: %s
      heartbeat_interval: %s`, replicaInterval, replicaSession, replicaHeartbeat)
	start := func(name string) *replica {
		port := freePort(t)
		config := collectorConfigWith(cluster.ListenAddrs(), wakes.URL, port, receiverKeys, "", strings.TrimSuffix(bindings.String(), "\n"))
		return &replica{name: name, Collector: startCollector(t, config, port)}
	}
	replicas := []*replica{start("a"), start("b")}

	// ownerships counts, per function and replica, the function's bindings
	// that replica owns.
	ownerships := func() map[string]map[string]int {
		out := map[string]map[string]int{}
		for _, r := range replicas {
			samples, err := r.Scrape(ctx)
			if err != nil {
				return nil
			}
			for _, s := range samples {
				if s.Name == "slimfaaskafka_binding_owned" && s.Value == 1 {
					fn := s.Labels["function"]
					if out[fn] == nil {
						out[fn] = map[string]int{}
					}
					out[fn][r.name]++
				}
			}
		}
		return out
	}
	var owner map[string]string
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		got := ownerships()
		owner = map[string]string{}
		for fn, byReplica := range got {
			if assert.Len(c, byReplica, 1, "%s owned by %v", fn, byReplica) {
				for name, n := range byReplica {
					assert.Equal(c, 2, n, "both bindings of %s owned by %s", fn, name)
					owner[fn] = name
				}
			}
		}
		assert.Len(c, owner, functions)
		assert.Len(c, slices.Compact(slices.Sorted(maps.Values(owner))), 2, "both replicas own functions")
	}, time.Minute, 100*time.Millisecond)
	t.Logf("owners: %v", owner)

	producer, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.DisableClientMetrics())
	require.NoError(t, err)
	defer producer.Close()
	require.NoError(t, producer.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("order")}).FirstErr())
	require.Eventually(t, func() bool { return len(wakes.Wakes()) == functions }, time.Minute, 100*time.Millisecond)
	time.Sleep(4 * replicaInterval)

	counted := map[string]map[string]float64{} // function → replica → wakeups_total
	for _, r := range replicas {
		samples, err := r.Scrape(ctx)
		require.NoError(t, err)
		for _, s := range samples {
			if s.Name == "slimfaaskafka_wakeups_total" {
				fn := s.Labels["function"]
				if counted[fn] == nil {
					counted[fn] = map[string]float64{}
				}
				counted[fn][r.name] += s.Value
			}
		}
	}
	t.Logf("wakes: %v", wakes.Wakes())
	for fn, n := range wakes.Wakes() {
		for _, r := range replicas {
			if r.name == owner[fn] {
				assert.Equal(t, float64(n), counted[fn][r.name], "%s: SlimFaas's wakes are its owner's", fn)
			} else {
				assert.Zero(t, counted[fn][r.name], "%s: %s does not own it and woke it", fn, r.name)
			}
		}
	}
}
