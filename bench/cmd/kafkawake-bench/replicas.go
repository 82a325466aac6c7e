package main

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// replicaFigures are the costs and delays of running several replicas in one
// coordination group.
type replicaFigures struct {
	killTakeover, termTakeover time.Duration
	requestsPerMemberPerSecond float64
	heartbeat                  time.Duration
	// firstWake is, per signal and report mode ("SIGKILL report: all"), the
	// time from the signal to the survivor's first wake of every function
	// the stopped replica owned.
	firstWake map[string]time.Duration
}

var (
	takeoverLine  = regexp.MustCompile(`takeover after (SIGKILL|SIGTERM): (\S+)`)
	requestsLine  = regexp.MustCompile(`([0-9.]+) requests per member per second \(heartbeat_interval (\S+)\)`)
	firstWakeLine = regexp.MustCompile(`first wake after (SIGKILL|SIGTERM) with report: (all|owned): (\S+)`)
)

// firstWakeCases are the rows of the first-wake figures, in order.
var firstWakeCases = []string{"SIGKILL report: all", "SIGKILL report: owned", "SIGTERM report: all", "SIGTERM report: owned"}

// runReplicas runs the three-replica e2e test against the built collector
// for the takeover delays, and the stable-group test for the requests a
// member sends.
func runReplicas(ctx context.Context, o options) (replicaFigures, error) {
	var f replicaFigures
	out, err := goCommand(ctx, []string{"KAFKAWAKE_COLLECTOR=" + o.collector}, "test", "-tags", "e2e", "-count", "1", "-v",
		"-run", "^TestReplicasShareTheBindingsAndTakeOver$", "-timeout", "10m", "./e2e/")
	if err != nil {
		return f, err
	}
	for _, m := range takeoverLine.FindAllStringSubmatch(out, -1) {
		d, err := time.ParseDuration(m[2])
		if err != nil {
			return f, fmt.Errorf("takeover after %s: %w", m[1], err)
		}
		if m[1] == "SIGKILL" {
			f.killTakeover = d
		} else {
			f.termTakeover = d
		}
	}
	out, err = goCommand(ctx, []string{"KAFKAWAKE_COLLECTOR=" + o.collector}, "test", "-tags", "e2e", "-count", "1", "-v",
		"-run", "^TestFirstWakeAfterATakeover$", "-timeout", "10m", "./e2e/")
	if err != nil {
		return f, err
	}
	f.firstWake = map[string]time.Duration{}
	for _, m := range firstWakeLine.FindAllStringSubmatch(out, -1) {
		d, err := time.ParseDuration(m[3])
		if err != nil {
			return f, fmt.Errorf("first wake after %s with report: %s: %w", m[1], m[2], err)
		}
		f.firstWake[m[1]+" report: "+m[2]] = d
	}
	if len(f.firstWake) != len(firstWakeCases) {
		return f, fmt.Errorf("%d of %d first-wake figures in the output of the e2e test", len(f.firstWake), len(firstWakeCases))
	}
	out, err = goCommand(ctx, nil, "test", "-count", "1", "-v",
		"-run", "^TestAStableGroupCostsOneHeartbeatPerMemberPerInterval$", "./receiver/kafkawakereceiver/internal/coordination/")
	if err != nil {
		return f, err
	}
	m := requestsLine.FindStringSubmatch(out)
	if m == nil {
		return f, fmt.Errorf("no requests figure in the output of the stable-group test:\n%s", out)
	}
	if f.requestsPerMemberPerSecond, err = strconv.ParseFloat(m[1], 64); err != nil {
		return f, err
	}
	if f.heartbeat, err = time.ParseDuration(m[2]); err != nil {
		return f, err
	}
	if f.killTakeover == 0 || f.termTakeover == 0 {
		return f, fmt.Errorf("no takeover figures in the output of the e2e test")
	}
	return f, nil
}

func (r *report) writeReplicas(w func(string, ...any)) {
	var shared []goBenchmark
	for _, g := range r.gobench {
		if strings.HasPrefix(g.name, "BenchmarkSharedScrape") {
			shared = append(shared, g)
		}
	}
	f := r.replicas
	if f.heartbeat == 0 && len(shared) == 0 {
		return
	}
	w("## Several replicas\n\n")
	if f.heartbeat > 0 {
		w("**Method.** `TestReplicasShareTheBindingsAndTakeOver` (e2e/replicas_test.go) runs three built collectors in one coordination group (session_timeout 6 s, heartbeat_interval 0.5 s, collection_interval 0.5 s) against kfake, kills one with SIGKILL, then stops one with SIGTERM, and times until the survivors' exporters serve every binding. ")
		w("`TestAStableGroupCostsOneHeartbeatPerMemberPerInterval` (receiver/kafkawakereceiver/internal/coordination) counts every request three stable members send in 4 s.\n\n")
		w("| Figure | Measured |\n|---|---:|\n")
		w("| Takeover after SIGKILL (bounded by session_timeout + heartbeat_interval = 6.5 s, plus the rebalance and the harness's polling) | %s s |\n", f2(f.killTakeover.Seconds()))
		w("| Takeover after SIGTERM (bounded by heartbeat_interval = 0.5 s, plus the rebalance and the harness's polling) | %s s |\n", f2(f.termTakeover.Seconds()))
		w("| Extra Kafka requests per replica per second, heartbeat_interval %s | %s |\n", f.heartbeat, f2(f.requestsPerMemberPerSecond))
		w("| The same at the default heartbeat_interval 1 s | %s |\n\n", f2(f.requestsPerMemberPerSecond*f.heartbeat.Seconds()))
	}
	if len(f.firstWake) > 0 {
		w("`TestFirstWakeAfterATakeover` (e2e/replicas_test.go) runs two built collectors with the same timings and a cooldown of 0, so that every owner wakes its pending functions at each observation, stops one with SIGKILL, restarts it, stops it with SIGTERM, and times from the signal to the survivor's first wake of every function the stopped replica owned, with `report: all` (the survivor already observes them) and `report: owned` (it reads them when they move in).\n\n")
		w("| Signal and report | First wake of every moved function |\n|---|---:|\n")
		for _, c := range firstWakeCases {
			w("| %s | %s s |\n", c, f2(f.firstWake[c].Seconds()))
		}
		w("\n")
	}
	if len(shared) > 0 {
		w("`BenchmarkSharedScrape` (receiver/kafkawakereceiver/ownership_bench_test.go): one replica's steady-state scrape of 3,000 bindings (200 topics × 12 partitions, 3 brokers, kfake in the same process) alone, and as one of three replicas with the leader's assignment, observing every binding (`report: all`, the default) or only its share (`report: owned`). The Kafka requests per scrape are the same: reading is batched per broker and coordinator, so observing every binding costs CPU and allocations, not requests.\n\n")
		w("| Replicas / report | GOMAXPROCS | Bindings observed | ms/scrape | Requests/scrape | Allocs/scrape (with kfake) |\n|---|---:|---:|---:|---:|---:|\n")
		for _, g := range shared {
			w("| %s | %d | %s | %s | %s | %s |\n", strings.TrimPrefix(g.name, "BenchmarkSharedScrape/replicas="), g.procs, thousands(g.values["bindings/replica"]),
				f1(g.values["ns/op"]/1e6), f1(g.values["requests/scrape"]), thousands(g.values["allocs/op"]))
		}
		w("\n")
	}
}

func f2(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
