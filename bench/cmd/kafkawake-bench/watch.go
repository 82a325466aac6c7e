package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkawake/kafkawake/internal/childprocess"
	"github.com/kafkawake/kafkawake/internal/collectortest"
	"github.com/kafkawake/kafkawake/internal/ctxsleep"
)

const (
	// targetWatchP95 is the watch's wake latency target at a 2 s interval.
	targetWatchP95  = 100 * time.Millisecond
	watchInterval   = 2 * time.Second
	watchMaxWait    = 5 * time.Second
	idleWatchTopics = 3
)

// watchResult holds the figures of the watch (watch.enabled).
type watchResult struct {
	wake wakeResult // produce → POST at watchInterval, watch on

	// Long polls at idle brokers: Fetch requests each broker received over
	// pollWindow, with idle bindings on every broker.
	brokers    int
	pollWindow time.Duration
	polls      map[int32][]time.Time // arrival of each Fetch, per broker

	// CPU of the collector at idle, 1,000 watched bindings, watch on and off.
	idleBindings, idleTopics, idlePartitions int
	cpuWindow                                time.Duration
	cpuOnPercent, cpuOffPercent              float64
}

// withWatch turns the watch on in a configuration of collectorConfig.
func withWatch(config string) string {
	return strings.Replace(config, "    bindings:\n",
		fmt.Sprintf("    watch:\n      enabled: true\n      max_wait: %s\n    bindings:\n", watchMaxWait), 1)
}

func runWatch(ctx context.Context, o options) (watchResult, error) {
	res := watchResult{brokers: 3}
	var err error
	if res.wake, err = runWakeTrials(ctx, o, watchInterval, withWatch); err != nil {
		return res, err
	}
	res.pollWindow = 6 * watchMaxWait
	if res.polls, err = recordIdlePolls(ctx, o, res.brokers, res.pollWindow); err != nil {
		return res, err
	}
	res.idleBindings, res.idleTopics, res.idlePartitions = 1000, 200, 12
	res.cpuWindow = time.Minute
	if o.quick {
		res.cpuWindow = 20 * time.Second
	}
	for _, watch := range []bool{true, false} {
		pct, err := idleCPU(ctx, o, res, watch)
		if err != nil {
			return res, err
		}
		if watch {
			res.cpuOnPercent = pct
		} else {
			res.cpuOffPercent = pct
		}
	}
	return res, nil
}

// recordIdlePolls runs the collector, watch on, with idle bindings led by
// every broker, and records when each broker receives a Fetch over window,
// once the polls are parked.
func recordIdlePolls(ctx context.Context, o options, brokers int, window time.Duration) (map[int32][]time.Time, error) {
	topics := make([]string, idleWatchTopics)
	bindings := make([]binding, idleWatchTopics)
	for i := range topics {
		topics[i] = fmt.Sprintf("idle-%d", i)
		bindings[i] = binding{topic: topics[i], group: fmt.Sprintf("idle-group-%d", i), function: fmt.Sprintf("idle-fn-%d", i)}
	}
	cluster, err := newCluster(brokers, brokers, topics)
	if err != nil {
		return nil, err
	}
	defer cluster.Close()
	// kfake picks each partition's leader at random: place partition p on
	// broker p, so that every broker leads a partition of every idle topic.
	for _, topic := range topics {
		for p := range int32(brokers) {
			if err := cluster.MoveTopicPartition(topic, p, p); err != nil {
				return nil, fmt.Errorf("placing %s/%d on broker %d: %w", topic, p, p, err)
			}
		}
	}
	var mu sync.Mutex
	counting := false
	polls := map[int32][]time.Time{}
	// A parked Fetch passes through the control again when it fires:
	// count each request once.
	seen := map[kmsg.Request]bool{}
	cluster.ControlKey(int16(kmsg.Fetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		mu.Lock()
		defer mu.Unlock()
		if counting && !seen[req] {
			seen[req] = true
			polls[cluster.CurrentNode()] = append(polls[cluster.CurrentNode()], time.Now())
		}
		return nil, nil, false
	})
	endpoint := newWakeEndpoint(16)
	defer endpoint.close()
	col, err := startIdleCollector(ctx, o, cluster, endpoint, bindings, true)
	if err != nil {
		return nil, err
	}
	defer func() { _ = col.Stop(collectorGrace) }()
	if err := ctxsleep.Sleep(ctx, 2*watchMaxWait); err != nil { // every poll parked once
		return nil, err
	}
	mu.Lock()
	counting = true
	mu.Unlock()
	if err := ctxsleep.Sleep(ctx, window); err != nil {
		return nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	counting = false
	return polls, col.Stop(collectorGrace)
}

// idleCPU runs the collector with res.idleBindings idle bindings and returns
// its CPU use, in percent of one core, over res.cpuWindow.
func idleCPU(ctx context.Context, o options, res watchResult, watch bool) (float64, error) {
	topics := make([]string, res.idleTopics)
	for i := range topics {
		topics[i] = fmt.Sprintf("idle-%03d", i)
	}
	bindings := make([]binding, res.idleBindings)
	for i := range bindings {
		bindings[i] = binding{topic: topics[i%len(topics)], group: fmt.Sprintf("idle-group-%04d", i), function: fmt.Sprintf("idle-fn-%04d", i)}
	}
	cluster, err := newCluster(res.brokers, res.idlePartitions, topics)
	if err != nil {
		return 0, err
	}
	defer cluster.Close()
	endpoint := newWakeEndpoint(16)
	defer endpoint.close()
	col, err := startIdleCollector(ctx, o, cluster, endpoint, bindings, watch)
	if err != nil {
		return 0, err
	}
	defer func() { _ = col.Stop(collectorGrace) }()
	if err := ctxsleep.Sleep(ctx, 2*watchMaxWait); err != nil { // past start-up
		return 0, err
	}
	before, err := cpuTicks(col.Pid())
	if err != nil {
		return 0, err
	}
	start := time.Now()
	if err := ctxsleep.Sleep(ctx, res.cpuWindow); err != nil {
		return 0, err
	}
	after, err := cpuTicks(col.Pid())
	if err != nil {
		return 0, err
	}
	pct := float64(after-before) / clockTicks / time.Since(start).Seconds() * 100
	return pct, col.Stop(collectorGrace)
}

// startIdleCollector starts the collector at watchInterval on cluster and
// waits for its first scrape.
func startIdleCollector(ctx context.Context, o options, cluster *kfake.Cluster, endpoint *wakeEndpoint, bindings []binding, watch bool) (*collectortest.Collector, error) {
	port, err := childprocess.FreePort()
	if err != nil {
		return nil, err
	}
	config := collectorConfig(cluster.ListenAddrs(), watchInterval, endpoint.srv.URL, "1h", port, bindings)
	if watch {
		config = withWatch(config)
	}
	col, err := collectortest.Start(o.collector, o.workDir, config, port)
	if err != nil {
		return nil, err
	}
	if err := col.WaitExposing(ctx, "slimfaaskafka_pending_messages", time.Minute); err != nil {
		_ = col.Stop(collectorGrace)
		return nil, err
	}
	return col, nil
}

// pollGap is the mean time between two Fetch requests at a broker, 0 with
// fewer than two.
func (r watchResult) pollGap(broker int32) time.Duration {
	at := r.polls[broker]
	if len(at) < 2 {
		return 0
	}
	return at[len(at)-1].Sub(at[0]) / time.Duration(len(at)-1)
}

// pollsPerMaxWait is the Fetch requests of a broker per watch.max_wait.
func (r watchResult) pollsPerMaxWait(broker int32) float64 {
	gap := r.pollGap(broker)
	if gap == 0 {
		return 0
	}
	return float64(watchMaxWait) / float64(gap)
}

func (r *report) writeWatchSummary(w func(string, ...any)) {
	if r.watch.wake.interval == 0 {
		return
	}
	wk := r.watch.wake
	ok := wk.missed == 0 && wk.quantile(0.95) <= targetWatchP95
	w("| Watch on: produce → POST p95 ≤ 100 ms at 2 s | p95 %s ms, %d/%d trials woken | %s |\n",
		ms(wk.quantile(0.95)), len(wk.latencies), len(wk.latencies)+wk.missed, verdict(ok))
}

func (r *report) writeWatch(w func(string, ...any)) {
	x := r.watch
	if x.wake.interval == 0 {
		return
	}
	wk := x.wake
	w("## 3b. Wake latency with the watch\n\n")
	w("**Method.** As section 3 at `collection_interval: %s`, with `watch: {enabled: true, max_wait: %s}`: the receiver long-polls the idle bindings' partitions and reports a binding as soon as a message reaches it.\n\n", watchInterval, watchMaxWait)
	w("| collection_interval | Trials | p50 ms | p95 ms | p99 ms | max ms | Target p95 | |\n|---:|---:|---:|---:|---:|---:|---:|---|\n")
	w("| %s | %d | %s | %s | %s | %s | ≤ %s ms | %s |\n", wk.interval, len(wk.latencies)+wk.missed, ms(wk.quantile(0.5)), ms(wk.quantile(0.95)),
		ms(wk.quantile(0.99)), ms(wk.quantile(1)), ms(targetWatchP95), verdict(wk.missed == 0 && wk.quantile(0.95) <= targetWatchP95))
	if wk.missed > 0 || wk.unexpected > 0 {
		w("\n%d trial(s) got no wake within 3 intervals + 5 s; %d wake(s) arrived for a binding without a trial.\n", wk.missed, wk.unexpected)
	}
	w("\n**Requests at idle.** %d idle bindings on %d topics of %d partitions, one partition led by each of %d brokers; Fetch requests counted at each kfake broker over %s, after the polls were parked:\n\n",
		idleWatchTopics, idleWatchTopics, x.brokers, x.brokers, x.pollWindow)
	w("| Broker | Fetch requests | mean time between two | per max_wait (%s) |\n|---:|---:|---:|---:|\n", watchMaxWait)
	for b := range int32(x.brokers) {
		w("| %d | %d | %s ms | %.2f |\n", b, len(x.polls[b]), ms(x.pollGap(b)), x.pollsPerMaxWait(b))
	}
	w("\nThe scrapes send no Fetch with `isolation_level: read_uncommitted`, so these are the watch's extra requests: one per broker per max_wait while nothing arrives.\n\n")
	w("**CPU at idle.** %s idle bindings on %d topics × %d partitions on %d brokers at `collection_interval: %s`; the collector's utime + stime over %s after start-up.\n\n",
		thousands(float64(x.idleBindings)), x.idleTopics, x.idlePartitions, x.brokers, watchInterval, x.cpuWindow)
	w("| watch | CPU, %% of one core |\n|---|---:|\n| on | %.2f |\n| off | %.2f |\n\n", x.cpuOnPercent, x.cpuOffPercent)
}
