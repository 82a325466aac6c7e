package main

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"
)

// Targets from the issue that introduced `make bench`, tightened by the
// scale envelope's issue.
const (
	targetScrapeP50MS = 20.0 // 1,000 bindings × 12 partitions on 3 brokers, wall time
	targetWakeSlackMS = 100  // p95 ≤ interval + 100 ms
	targetRSSMiB      = 64   // the collector at 1,000 bindings
	targetCPUPercent  = 5.0  // the collector at 1,000 bindings every 2 s

	// The envelope: 1,000 bindings × 12 partitions (in process), and
	// 10,000 bindings over 100,000 partitions.
	targetScrapeCPUMS      = 10.0
	targetScrapeAllocs     = 10_000
	targetLargeScrapeCPUMS = 1000.0
	targetLargeRSSMiB      = 256
	targetLargeRSSLimitMiB = 512
	targetAllocsPerCounter = 2.0
	targetBindings         = 1000
	targetPartitions       = 12
	targetBrokers          = 3
	profileLines           = 30
	largestBindings        = 5000
	largestPartitions      = 12
	largestBrokerCount     = 3
)

// The processor's target, from its own issue: input data points per second on
// one core, in batches of 1,000 bindings as the receiver emits them.
const (
	targetProcessorPoints = 1_000_000
	processorBenchmark    = "BenchmarkProcessMetrics"
	receiverBatch         = processorBenchmark + "/receiver_batch"
	// counterPointsPerBatch is wakeups and wake_failures × 3 reasons × 1,000
	// bindings.
	counterPointsPerBatch = 6000
)

type machine struct {
	cpu, kernel string
	cores       int
	memMiB      int64
	goVersion   string
	loadStart   string
}

type report struct {
	quick             bool
	started, finished time.Time
	machine           machine
	loadEnd           string

	gobench    []goBenchmark
	gobenchRaw string
	scrapes    []scrapeResult
	wakes      []wakeResult
	watch      watchResult
	keda       wakeResult
	envelopes  []envelope
	binaryMiB  float64 // the size of the collector binary
	// replicasErr is set when the several-replicas run failed.
	replicasErr error
	replicas    replicaFigures

	// CPU profiles of steady-state scrapes, by title.
	profiles []profile
}

type profile struct{ title, why, top string }

// envelope is one topology measured twice: the receiver's scrapes in
// process, and the built collector's footprint.
type envelope struct {
	scale     scrapeResult
	footprint footprintResult
}

func describeMachine() machine {
	m := machine{cores: runtime.NumCPU(), goVersion: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH, loadStart: loadAvg()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		for _, line := range strings.Split(string(data), "\n") {
			if _, err := fmt.Sscanf(line, "MemTotal: %d kB", &kb); err == nil {
				m.memMiB = kb / 1024
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = strings.TrimSpace(string(data))
	}
	return m
}

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func (r *report) matrix() []scrapeResult {
	var out []scrapeResult
	for _, s := range r.scrapes {
		if s.Set == "matrix" {
			out = append(out, s)
		}
	}
	return out
}

func (r *report) find(kind, set string, brokers, partitions, bindings, latency int) (scrapeResult, bool) {
	for _, s := range r.scrapes {
		if s.Kind == kind && s.Set == set && s.Brokers == brokers && s.Partitions == partitions && s.Bindings == bindings && s.LatencyMS == latency {
			return s, true
		}
	}
	return scrapeResult{}, false
}

// targetScrape is the measured 1,000 × 12 × 3 configuration.
func (r *report) targetScrape() (scrapeResult, bool) {
	return r.find("scrape", "matrix", targetBrokers, targetPartitions, targetBindings, 0)
}

func (r *report) scrapeTargetMissed() bool {
	s, ok := r.targetScrape()
	return ok && s.P50MS > targetScrapeP50MS
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f", float64(d)/float64(time.Millisecond)) }

func f1(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func requestKeys(m map[string]int64, checks int) string {
	return requestKeysPer(m, float64(checks))
}

// requestKeysPer is each API's requests divided by per (scrapes, intervals).
func requestKeysPer(m map[string]int64, per float64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %s", k, strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.2f", float64(m[k])/per), "0"), ".0"))
	}
	return strings.Join(parts, ", ")
}

func (r *report) markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	w("# Benchmarks\n\n")
	w("Generated by `make bench` (`go run ./bench/cmd/kafkawake-bench`); do not edit by hand.")
	if r.quick {
		w(" **This is a quick run** (`-quick`): fewer scrapes and trials and a short footprint run; the figures are indicative only.")
	}
	w("\n\n")
	w("Kafka is [kfake](https://pkg.go.dev/github.com/twmb/franz-go/pkg/kfake), an in-memory Kafka in Go. It runs all brokers on one event loop, does not replicate and has no network latency, so **request counts and allocation counts are the stable figures; wall times are only comparable with each other, within this document.**\n\n")

	w("## Machine\n\n")
	w("| | |\n|---|---|\n")
	w("| CPU | %s, %d logical cores |\n", r.machine.cpu, r.machine.cores)
	w("| Memory | %s MiB |\n", thousands(float64(r.machine.memMiB)))
	w("| Kernel | Linux %s |\n", r.machine.kernel)
	w("| Go | %s |\n", r.machine.goVersion)
	w("| Run | %s to %s UTC (%s) |\n", r.started.Format("2006-01-02 15:04"), r.finished.Format("15:04"), r.finished.Sub(r.started).Round(time.Second))
	w("| Load average (1, 5, 15 min) | %s at the start, %s at the end |\n\n", r.machine.loadStart, r.loadEnd)
	w("The machine is shared with other work, which shows in wall times and percentiles, not in request or allocation counts.\n\n")

	r.writeSummary(w)
	r.writeScrape(w)
	r.writeBaseline(w)
	r.writeWake(w)
	r.writeWatch(w)
	r.writeKeda(w)
	r.writeFootprint(w)
	r.writeProcessor(w)
	r.writeReplicas(w)
	if r.replicasErr != nil {
		w("## Several replicas\n\nThe run failed in this report: `%s`.\n\n", strings.SplitN(r.replicasErr.Error(), "\n", 2)[0])
	}
	r.writeProfiles(w)
	r.writePendingAge(w)
	if r.gobenchRaw != "" {
		w("## Raw Go benchmark output\n\n<details><summary>go test -bench</summary>\n\n```\n%s```\n\n</details>\n", r.gobenchRaw)
	}
	return b.String()
}

func (r *report) writeSummary(w func(string, ...any)) {
	w("## Targets\n\n| Target | Measured | |\n|---|---|---|\n")
	if m := r.matrix(); len(m) > 0 {
		byBrokers := map[int][]float64{}
		for _, s := range m {
			byBrokers[s.Brokers] = append(byBrokers[s.Brokers], s.requestsPerCheck())
		}
		brokers := make([]int, 0, len(byBrokers))
		for k := range byBrokers {
			brokers = append(brokers, k)
		}
		slices.Sort(brokers)
		var parts []string
		constant := true
		for _, k := range brokers {
			lo, hi := slices.Min(byBrokers[k]), slices.Max(byBrokers[k])
			parts = append(parts, fmt.Sprintf("%d broker(s): %s–%s", k, f1(lo), f1(hi)))
			// Within one request: an occasional metadata refresh.
			constant = constant && hi-lo < 1
		}
		w("| Kafka requests per scrape constant in bindings (10–5,000) and partitions (1–48) | %s | %s |\n", strings.Join(parts, "; "), verdict(constant))
	}
	if s, ok := r.targetScrape(); ok {
		w("| 1,000 bindings × 12 partitions on 3 brokers scraped in ≤ 20 ms p50 | p50 %s ms, p99 %s ms | %s |\n", f1(s.P50MS), f1(s.P99MS), verdict(s.P50MS <= targetScrapeP50MS))
	}
	for _, wk := range r.wakes {
		limit := wk.interval + targetWakeSlackMS*time.Millisecond
		ok := wk.missed == 0 && wk.quantile(0.95) <= limit
		w("| Wake latency p95 ≤ interval + 100 ms at %s | p95 %s ms (limit %s ms), %d/%d trials woken | %s |\n",
			wk.interval, ms(wk.quantile(0.95)), ms(limit), len(wk.latencies), len(wk.latencies)+wk.missed, verdict(ok))
	}
	r.writeWatchSummary(w)
	r.writeKedaSummary(w)
	for _, e := range r.envelopes {
		sc, f := e.scale, e.footprint
		if f.lean {
			w("| Same with the lean metric set: collector RSS ≤ 256 MiB | peak %.1f MiB | %s |\n", mib(f.rssPeakKB), verdict(mib(f.rssPeakKB) <= targetLargeRSSMiB))
			continue
		}
		if f.push && f.bindings == targetBindings {
			push := fmt.Sprintf("1,000 bindings at 2 s pushed with the OTLP exporter instead of the Prometheus exporter, GOMEMLIMIT %s", f.memLimit)
			w("| %s: collector RSS ≤ 64 MiB | peak %.1f MiB (anonymous %.1f, file-backed %.1f) | %s |\n", push, mib(f.rssPeakKB), mib(f.rssPeakAnonKB), mib(f.rssPeakFileKB), verdict(mib(f.rssPeakKB) <= targetRSSMiB))
			w("| %s: collector CPU ≤ 5 %% of one core | %.2f %% on average over %s%s | %s |\n", push, f.cpuPercent, f.duration.Round(time.Second), f.cpu.largest(3), verdict(f.cpuPercent <= targetCPUPercent))
			continue
		}
		if f.push {
			push := fmt.Sprintf("Same, every default metric on, pushed with the OTLP exporter instead of the Prometheus exporter, GOMEMLIMIT %s", f.memLimit)
			w("| %s: collector RSS ≤ 512 MiB (the limit) | peak %.1f MiB | %s |\n", push, mib(f.rssPeakKB), verdict(mib(f.rssPeakKB) <= targetLargeRSSLimitMiB))
			w("| %s: collector RSS ≤ 256 MiB (the goal) | peak %.1f MiB | %s |\n", push, mib(f.rssPeakKB), verdict(mib(f.rssPeakKB) <= targetLargeRSSMiB))
			continue
		}
		if f.bindings == targetBindings {
			w("| Scrape CPU ≤ 10 ms p50, 1,000 bindings × 12 partitions on 3 brokers (in process) | p50 %s ms, p99 %s ms%s | %s |\n", f1(sc.CPUP50MS), f1(sc.CPUP99MS),
				copyOfThePoints(sc.CopyCPUMS, " ms", sc.Series), verdict(sc.CPUP50MS <= targetScrapeCPUMS))
			w("| ≤ 10,000 allocations per scrape, same | %s%s | %s |\n", thousands(sc.Allocs), copyOfThePoints(sc.CopyAllocs, "", sc.Series), verdict(sc.Allocs <= targetScrapeAllocs))
			w("| Collector RSS ≤ 64 MiB, 1,000 bindings at 2 s | peak %.1f MiB (anonymous %.1f, file-backed %.1f) | %s |\n", mib(f.rssPeakKB), mib(f.rssPeakAnonKB), mib(f.rssPeakFileKB), verdict(mib(f.rssPeakKB) <= targetRSSMiB))
			w("| Collector CPU ≤ 5 %% of one core, same run | %.2f %% on average over %s%s | %s |\n", f.cpuPercent, f.duration.Round(time.Second), f.cpu.largest(3), verdict(f.cpuPercent <= targetCPUPercent))
			continue
		}
		small, ok := r.envelopeOf(targetBindings)
		w("| %s bindings over %s partitions: scrape CPU ≤ 1 s (in process) | p50 %s ms, p99 %s ms; wall p50 %s ms, p99 %s ms | %s |\n", thousands(float64(f.bindings)), thousands(float64(f.topics*f.partitions)),
			f1(sc.CPUP50MS), f1(sc.CPUP99MS), f1(sc.P50MS), f1(sc.P99MS), verdict(sc.CPUP99MS <= targetLargeScrapeCPUMS))
		if ok {
			w("| Same: requests per scrape those of a small configuration | %s (%s at 1,000 bindings) | %s |\n", f1(sc.requestsPerCheck()), f1(small.scale.requestsPerCheck()), verdict(sc.requestsPerCheck()-small.scale.requestsPerCheck() < 1))
		}
		w("| Same: collector RSS ≤ 256 MiB (limit 512) at %s | peak %.1f MiB | %s |\n", f.interval, mib(f.rssPeakKB), verdict(mib(f.rssPeakKB) <= targetLargeRSSMiB))
		w("| Same: %d bindings checked against kadm | %d equal (seed %d) | %s |\n", sc.Checked, sc.Checked, sc.CheckSeed, verdict(sc.Checked == 20))
	}
	for _, g := range r.gobench {
		if g.name == receiverBatch && g.procs == 1 {
			points := g.values["datapoints/s"]
			w("| Processor ≥ 1,000,000 data points/s on one core, batches of 1,000 bindings | %s input points/s (%s ms a batch) | %s |\n",
				thousands(points), f1(g.values["ns/op"]/1e6), verdict(points >= targetProcessorPoints))
			if perPoint, ok := g.values["allocs/counter_point"]; ok {
				copied := ""
				if v, ok := g.values["copy_allocs/counter_point"]; ok {
					copied = fmt.Sprintf("; a copy of the same points: %s", f1(v))
				}
				w("| Processor ≤ 2 allocations per counter point written | %s%s | %s |\n", f1(perPoint), copied, verdict(perPoint <= targetAllocsPerCounter))
			}
		}
	}
	w("\n")
}

// copyOfThePoints shows what a copy of a scrape's points costs beside the
// scrape's own figure: the part no producer of those points avoids in pdata.
func copyOfThePoints(v float64, unit string, points int) string {
	if v == 0 {
		return ""
	}
	value := thousands(v)
	if unit != "" {
		value = f1(v) + unit
	}
	return fmt.Sprintf("; a copy of its %s points alone: %s", thousands(float64(points)), value)
}

func (r *report) writeScrape(w func(string, ...any)) {
	m := r.matrix()
	if len(m) == 0 {
		return
	}
	w("## 1. Scrape cost against scale\n\n")
	w("**Method.** `receiver/kafkawakereceiver/scale_bench_test.go` (build tag `bench`, so `make test` never runs it) calls the receiver's scrape function, the one the factory hands to scraperhelper's controller, back to back on a started receiver. ")
	w("kfake runs in a **child process** (the same test binary re-run in a server mode), so the CPU time and the allocations below belong to the receiver's process only: scraper, franz-go client and Go runtime, not the fake broker.\n\n")
	w("- **Topology.** One kfake cluster per (brokers, partitions): 200 topics `topic-000`…`topic-199` of P partitions each, 4 records per partition. Groups `group-0000`…`group-4999`: even groups committed offset 2 on every partition of their topic, odd groups never committed (kfake answers those with GROUP_ID_NOT_FOUND). Binding *i* = (topic *i* mod min(n, 200), group *i*). So 10 and 100 bindings read 10 and 100 topics, and 1,000 and 5,000 bindings share 200 topics (5 and 25 bindings per topic): the partitions read are min(n, 200) × P, at most 9,600, and the groups read are n.\n")
	w("- **Warm-up.** 3 scrapes first (connections, API versions, coordinator lookup, metadata), then scrapes back to back for at least %s.\n", map[bool]string{false: "3 s and 30 scrapes (at most 300)", true: "1 s and 10 scrapes (at most 100)"}[r.quick])
	w("- **Requests** are counted by the kfake server in an observe-only control (`Control` + `KeepControl`, returning not handled), read before and after the scrapes.\n")
	w("- **Wall time** is each scrape call; p50 and p99 are nearest-rank over the scrapes.\n")
	w("- **CPU** is `getrusage(RUSAGE_SELF)` user + system time of the receiver's process divided by the scrapes (GC included).\n")
	w("- **Allocations** are `runtime.MemStats` Mallocs and TotalAlloc deltas divided by the scrapes.\n\n")
	w("| Brokers | Partitions/topic | Bindings | Topics | Partitions read | Scrapes | Requests/scrape | Requests by API | p50 ms | p99 ms | CPU ms/scrape | Allocs/scrape | KiB/scrape |\n")
	w("|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|\n")
	for _, s := range m {
		w("| %d | %d | %s | %d | %s | %d | %s | %s | %s | %s | %s | %s | %s |\n", s.Brokers, s.Partitions, thousands(float64(s.Bindings)), s.Topics,
			thousands(float64(s.Topics*s.Partitions)), s.Checks, f1(s.requestsPerCheck()), requestKeys(s.Requests, s.Checks),
			f1(s.P50MS), f1(s.P99MS), f1(s.CPUMS), thousands(s.Allocs), thousands(s.AllocKB))
	}
	w("\n")
	w("Requests per scrape are 1 Metadata, 2 ListOffsets (log starts and end offsets) per broker leading a watched partition, and per group coordinator 1 OffsetFetch, 1 DescribeGroups and 1 ConsumerGroupDescribe (the members of both group types): 6 on one broker, 16 on three, whatever the bindings and partitions.\n\n")
	w("CPU ms per scrape is close to the wall time: a scrape of many bindings is bound by the receiver's own CPU (decoding the answers, assembling each binding, building the metrics, GC), not by waiting on kfake.")
	if len(r.profiles) > 0 {
		w(" Section 6 has a CPU profile.")
	}
	w("\n\n")
}

func (r *report) writeBaseline(w func(string, ...any)) {
	var rows [][2]scrapeResult
	for _, s := range r.scrapes {
		if s.Kind != "baseline" {
			continue
		}
		if k, ok := r.find("scrape", "compare", s.Brokers, s.Partitions, s.Bindings, s.LatencyMS); ok {
			rows = append(rows, [2]scrapeResult{k, s})
		}
	}
	if len(rows) == 0 {
		return
	}
	w("## 2. Against SlimFaasKafka's read pattern\n\n")
	w("**Method.** The same test implements SlimFaasKafka's way of reading lag as a baseline (bench code only): for each binding in turn it creates a new franz-go client, sends Metadata for the topic, reads the group's committed offsets (FindCoordinator + OffsetFetch), then sends one ListOffsets per partition to its leader, one after the other, and closes the client. ")
	w("This is conservative: SlimFaasKafka builds two clients per binding (an AdminClient and a Consumer), and librdkafka's watermark query may ask for the low and the high watermark in separate requests, so the real service sends at least this many. ")
	w("Both readers run against the same cluster (3 brokers, 12 partitions per topic, the topology of section 1) and must agree on Σ pending, which the test checks. ")
	w("Latency is added on the kfake server to every Metadata, FindCoordinator, ListOffsets and OffsetFetch request with `SleepControl`, which parks the one request and lets the cluster serve the others (a plain sleep in a control would stall every broker). ")
	w("kafkawake's figure is per scrape as in section 1; the baseline's is one full check of all bindings, repeated %s.\n\n", map[bool]string{false: "up to 3 times within 20 s (at least once)", true: "once"}[r.quick])
	w("| Bindings | Added latency | kafkawake requests/scrape | baseline requests/check | Requests ratio | kafkawake mean ms | baseline mean ms | Wall-time ratio | baseline requests by API |\n")
	w("|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, row := range rows {
		k, s := row[0], row[1]
		w("| %s | %d ms | %s | %s | %s× | %s | %s | %s× | %s |\n", thousands(float64(k.Bindings)), k.LatencyMS, f1(k.requestsPerCheck()), thousands(s.requestsPerCheck()),
			thousands(s.requestsPerCheck()/k.requestsPerCheck()), f1(k.MeanMS), thousands(s.MeanMS), thousands(s.MeanMS/k.MeanMS), requestKeys(s.Requests, s.Checks))
	}
	w("\nThe baseline's requests grow as bindings × (partitions + 3) plus one ApiVersions per new connection; kafkawake's stay at 3 per broker. With latency every baseline request costs a round trip in sequence, while kafkawake's few requests run concurrently.\n\n")
}

func (r *report) writeWake(w func(string, ...any)) {
	if len(r.wakes) == 0 {
		return
	}
	w("## 3. Wake latency\n\n")
	w("**Method.** The built collector (`bin/otelcol-kafkawake`, pipeline kafkawake → slimfaaswake → Prometheus exporter) runs against an in-process kfake (3 brokers) and a local HTTP endpoint that answers every `POST /wake-function/{name}` with 204 and timestamps its arrival. ")
	w("Each trial has its own binding on its own empty topic of 3 partitions (so one idle binding per trial), and the cooldown is 1 h, so each binding wakes exactly once. ")
	w("A trial waits a random time in [0, interval) to take a random phase against the scrape ticker, produces one message to its topic and measures from just before the produce to the arrival of the wake POST. The harness and the collector share the machine's 2 cores.\n\n")
	w("| collection_interval | Trials | p50 ms | p95 ms | p99 ms | max ms | Target p95 | |\n|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, wk := range r.wakes {
		limit := wk.interval + targetWakeSlackMS*time.Millisecond
		ok := wk.missed == 0 && wk.quantile(0.95) <= limit
		w("| %s | %d | %s | %s | %s | %s | ≤ %s ms | %s |\n", wk.interval, len(wk.latencies)+wk.missed, ms(wk.quantile(0.5)), ms(wk.quantile(0.95)),
			ms(wk.quantile(0.99)), ms(wk.quantile(1)), ms(limit), verdict(ok))
		if wk.missed > 0 || wk.unexpected > 0 {
			w("\n%d trial(s) got no wake within 3 intervals + 5 s; %d wake(s) arrived for a binding without a trial.\n\n", wk.missed, wk.unexpected)
		}
	}
	w("\nA message waits for the next scrape, a uniform wait in [0, interval), then for one scrape, the processor and one HTTP round trip. So p50 is expected near half the interval and p95 near 0.95 × interval plus that pipeline time; the target allows the interval plus 100 ms.\n\n")
}

func (r *report) envelopeOf(bindings int) (envelope, bool) {
	for _, e := range r.envelopes {
		if e.footprint.bindings == bindings && e.footprint.standard() {
			return e, true
		}
	}
	return envelope{}, false
}

func mib(kb int64) float64 { return float64(kb) / 1024 }

func (r *report) writeFootprint(w func(string, ...any)) {
	if len(r.envelopes) == 0 {
		return
	}
	w("## 4. The scale envelope: scrape cost and collector footprint\n\n")
	w("Two topologies, each on 3 kfake brokers with 4 records on every partition: **1,000 bindings** over 200 topics × 12 partitions (the topology of section 1, so the figures compare with earlier runs) collected every 2 s, and **10,000 bindings** over 1,000 topics × 100 partitions (100,000 partitions, 10,000 groups) collected every 5 s. ")
	w("Binding *i* reads topic *i* mod topics with its own group; every even group committed offset 2 on all the partitions of its topic, odd groups never committed. Every default metric is on, except in the run marked *lean*, which turns off %s: what neither the wake nor the scaling reads. The runs marked *OTLP push* have every default metric on and replace the Prometheus exporter with the OTLP exporter, behind a batch processor that splits each scrape into requests of at most %s points, pushing to a local OTLP/gRPC endpoint that keeps nothing; its *series* are the points pushed per interval and its */metrics size* their encoded size (before gzip).\n\n", "`"+strings.Join(leanDisabled, "`, `")+"`", thousands(pushBatchPoints))
	w("**Scrapes in process.** `TestBenchScale` (receiver/kafkawakereceiver/scale_bench_test.go, build tag `bench`) scrapes back to back as section 1 does, with kfake in a child process, and measures each scrape's wall time and the process's CPU time (`getrusage`) around it. ")
	w("*State* is the live heap the started scraper keeps between scrapes (heap after GC, before and after the scraper's start and warm-up scrapes). The test then compares the pending value of 20 bindings picked with a printed seed against kadm's reading of the same cluster (`KAFKAWAKE_BENCH_SEED` replays them).\n\n")
	w("*A copy of the points* is `CopyTo` of one scrape's points into new ones, measured the same way (mean CPU, its garbage collection included): each point, its value, its attribute slice and one wrapper per string attribute are a pdata allocation each, so no code that produces these points allocates or spends less. The rest of a scrape is the receiver's and its Kafka client's.\n\n")
	w("| Bindings | Partitions read | Scrapes | Requests/scrape | Requests by API | Wall p50 ms | Wall p99 ms | CPU p50 ms | CPU p99 ms | Allocs/scrape | KiB/scrape | State MiB | Points/scrape | A copy of the points: CPU ms / allocs | Checked against kadm |\n")
	w("|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, e := range r.envelopes {
		s := e.scale
		if s.Checks == 0 {
			continue
		}
		w("| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %d equal (seed %d) |\n", thousands(float64(s.Bindings)), thousands(float64(s.Topics*s.Partitions)), s.Checks,
			f1(s.requestsPerCheck()), requestKeys(s.Requests, s.Checks), f1(s.P50MS), f1(s.P99MS), f1(s.CPUP50MS), f1(s.CPUP99MS),
			thousands(s.Allocs), thousands(s.AllocKB), f1(s.StateKB/1024), thousands(float64(s.Series)), f1(s.CopyCPUMS), thousands(s.CopyAllocs), s.Checked, s.CheckSeed)
	}
	w("\nThe requests are those of section 1: one Metadata, one ListOffsets for the log starts and one for the ends per broker, and one OffsetFetch, one DescribeGroups and one ConsumerGroupDescribe (members of both group types) per group coordinator, whatever the bindings and partitions.\n\n")

	f0 := r.envelopes[0].footprint
	w("**The collector.** The built collector (pipeline kafkawake → slimfaaswake → Prometheus exporter, the pprof extension on, no `GOMEMLIMIT` unless the row names one) runs on an in-process kfake of the same topology; a local endpoint answers every wake with 204 and the cooldown is 30 s, so every pending binding is woken again every 30 s. ")
	w("Once the first wake counters appear on the exporter, the harness samples `/proc/<pid>/status` VmRSS and `/proc/<pid>/stat` utime + stime once a second for %s, counts the Kafka requests kfake receives, and reads `/metrics` every 15 s as a Prometheus server would. ", f0.duration.Round(time.Second))
	w("The collector runs with `GODEBUG=gctrace=1`, whose lines give the live heap after each GC. *CPU per interval* is the collector's CPU time over the collection intervals of the window (receiver, processor, exporter, wakes and runtime); *wake connections opened* are the TCP connections the collector opened to the wake endpoint over the whole run.\n\n")
	w("| Bindings | Interval | RSS start | RSS median | RSS peak | Peak: anonymous / file-backed | Live heap after GC (max) | Average CPU (one core) | Busiest 10 s | CPU per interval | Kafka requests per interval | Series on /metrics | /metrics size | /metrics p50 / max | Wake POSTs | Wake connections opened |\n")
	w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, e := range r.envelopes {
		f := e.footprint
		var total int64
		for _, n := range f.requests {
			total += n
		}
		times := slices.Clone(f.expositionTimes)
		slices.Sort(times)
		p50, worst := quantile(times, 0.5), quantile(times, 1)
		w("| %s | %s | %.1f MiB | %.1f MiB | %.1f MiB | %.1f / %.1f MiB | %d MB | %.2f %% | %.2f %% | %s ms | %s | %s | %s KiB | %s / %s ms | %s | %s |\n",
			f.name()+map[bool]string{true: ", GOMEMLIMIT=" + f.memLimit}[f.memLimit != ""], f.interval, mib(f.rssStartKB), mib(f.rssMedianKB), mib(f.rssPeakKB), mib(f.rssPeakAnonKB), mib(f.rssPeakFileKB), f.maxLiveMB, f.cpuPercent, f.maxWindowPercent,
			thousands(float64(f.cpuPerScrape().Milliseconds())), f1(float64(total)/f.scrapes()), thousands(float64(f.series)), thousands(float64(f.expositionBytes)/1024), ms(p50), ms(worst), thousands(float64(f.wakes)), thousands(float64(f.wakeConns)))
	}
	w("\nKafka requests per interval by API:\n\n")
	for _, e := range r.envelopes {
		f := e.footprint
		w("- %s: %s\n", f.name()+map[bool]string{true: ", GOMEMLIMIT=" + f.memLimit}[f.memLimit != ""], requestKeysPer(f.requests, f.scrapes()))
	}
	w("\n**Memory by component.** At the end of each run the harness reads %d heap profiles from the pprof extension (`/debug/pprof/heap?gc=1`, so each after a collection), spread over one collection interval, and averages them. Each sample's in-use bytes go to the first component found on its allocation stack, in the order of the table: the exporters keep their own copies of the points, so they come before pdata; pdata allocated under none of them is in flight through the pipeline. A profile is a moment: one taken during a scrape also holds that scrape's decoded answers and assembly.\n\n", heapProfiles)
	r.writeComponents(w, "What it holds", heapParts, func(f footprintResult, part string) string {
		return fmt.Sprintf("%.1f MiB (%.0f %%)", float64(f.heap.byPart[part])/(1<<20), 100*float64(f.heap.byPart[part])/float64(max(f.heap.total, 1)))
	}, "in use", func(f footprintResult) string { return fmt.Sprintf("%.1f MiB", float64(f.heap.total)/(1<<20)) })
	w("**CPU by component.** A CPU profile from the pprof extension (`/debug/pprof/profile`) covers the last %s of each run's window, while `/metrics` is still read. Each sample goes to the first component found on its stack, in the order of the table, and is shown in %% of one core over the profile, then as a share of the profile. Points are the work of whoever writes them (the receiver, the processor's counters, the exporters' copies); the garbage collection a goroutine does while allocating stays with its component, and the row *garbage collection* is the runtime's background work.\n\n", cpuProfileTime)
	r.writeComponents(w, "What it does", cpuParts, func(f footprintResult, part string) string {
		return fmt.Sprintf("%.2f %% (%.0f %%)", f.cpu.percentOfACore(f.cpu.byPart[part]), 100*float64(f.cpu.byPart[part])/float64(max(f.cpu.total, 1)))
	}, "total", func(f footprintResult) string { return fmt.Sprintf("%.2f %%", f.cpu.percentOfACore(f.cpu.total)) })
	for _, e := range r.envelopes {
		f := e.footprint
		if f.bindings != targetBindings {
			continue
		}
		how := "with the Prometheus exporter"
		if f.push {
			how = "pushed with OTLP, GOMEMLIMIT=" + f.memLimit
		}
		w("Targets at 1,000 bindings %s: RSS ≤ 64 MiB (%s: peak %.1f MiB, of which %.1f MiB file-backed), CPU ≤ 5 %% of one core (%s: %.2f %%).\n\n",
			how, verdict(mib(f.rssPeakKB) <= targetRSSMiB), mib(f.rssPeakKB), mib(f.rssPeakFileKB), verdict(f.cpuPercent <= targetCPUPercent), f.cpuPercent)
	}
	w("The file-backed part of the RSS is the pages of the collector binary (about %s MiB: the collector's service, four exporters, three processors and two extensions) that the process has touched. The anonymous part holds, besides the live heap, the Go runtime, goroutine stacks and heap the runtime has not returned to the OS yet; the README's \"Sizing\" section gives `GOMEMLIMIT`'s measured effect on it.\n\n", f1(r.binaryMiB))
}

// writeComponents writes a table of a footprint's parts, one column per
// run, and the runs' totals, named totalName, last.
func (r *report) writeComponents(w func(string, ...any), what string, parts []component, cell func(footprintResult, string) string,
	totalName string, total func(footprintResult) string,
) {
	w("| Component | %s |", what)
	for _, e := range r.envelopes {
		w(" %s bindings |", e.footprint.name())
	}
	w("\n|---|---|")
	for range r.envelopes {
		w("---:|")
	}
	w("\n")
	for _, part := range parts {
		w("| %s | %s |", part.name, part.why)
		for _, e := range r.envelopes {
			w(" %s |", cell(e.footprint, part.name))
		}
		w("\n")
	}
	w("| **%s** | |", totalName)
	for _, e := range r.envelopes {
		w(" **%s** |", total(e.footprint))
	}
	w("\n\n")
}

func (r *report) writeProcessor(w func(string, ...any)) {
	var rows []goBenchmark
	for _, g := range r.gobench {
		if strings.HasPrefix(g.name, processorBenchmark) {
			rows = append(rows, g)
		}
	}
	var scrape []goBenchmark
	for _, g := range r.gobench {
		if strings.HasPrefix(g.name, "BenchmarkScrape") {
			scrape = append(scrape, g)
		}
	}
	if len(rows) == 0 && len(scrape) == 0 {
		return
	}
	w("## 5. Processor throughput, and the receiver's Go benchmark\n\n")
	w("**Method.** `BenchmarkProcessMetrics` (processor/slimfaaswakeprocessor/benchmark_test.go) feeds batches of 1,000 bindings in dry run, advancing a fake clock by 2 s and the consumed counts of four bindings in five each batch, so that bindings are pending, active or idle and some are woken every batch. ")
	w("`receiver_batch` is the batch the receiver emits, built with the same generated builder: pending and consumed for every binding and last_activity_timestamp for the 800 that consume (2,800 input points). `pending_and_consumed` leaves last_activity_timestamp out (2,000 input points): the same decisions and counters with fewer points to pass through. ")
	w("Each batch also gets 6,000 counter points (wakeups and wake_failures × 3 reasons × 1,000 bindings). Run with `-benchmem -cpu 1,2 -count %d`: the tables of this section give each benchmark's median run by ms per op, the raw output below every run. Input points/s are input points over the measured time.\n\n", goBenchRuns)
	if len(rows) > 0 {
		w("| Batch | GOMAXPROCS | Batches | ms/batch | Input points/s | In+out points/s | Allocs/batch | KiB/batch |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, g := range rows {
			batch := strings.TrimPrefix(strings.TrimPrefix(g.name, processorBenchmark), "/")
			w("| %s | %d | %d | %s | %s | %s | %s | %s |\n", batch, g.procs, g.n, f1(g.values["ns/op"]/1e6), thousands(g.values["datapoints/s"]), thousands(g.values["in+out_points/s"]),
				thousands(g.values["allocs/op"]), thousands(g.values["B/op"]/1024))
		}
		w("\nThe processor allocates %.2f times per counter point it writes: with pdata's API the point, its int value, its attribute slice and each of its four string attribute values are one allocation each, seven in all, and building these points is most of a batch's time.\n\n",
			rows[0].values["allocs/op"]/counterPointsPerBatch)
	}
	if len(scrape) > 0 {
		w("`BenchmarkScrape` (receiver/kafkawakereceiver/bench_test.go) is the receiver's own steady-state scrape benchmark: 200 bindings on 200 topics × 12 partitions on 3 brokers, kfake **in the same process**, so its allocations include the fake broker's. `BenchmarkScrapeWithShareBindings` reads every third binding through a share group instead.\n\n")
		w("| Benchmark | GOMAXPROCS | Scrapes | ms/scrape | Requests/scrape | Allocs/scrape (with kfake) | KiB/scrape (with kfake) |\n|---|---:|---:|---:|---:|---:|---:|\n")
		for _, g := range scrape {
			w("| %s | %d | %d | %s | %s | %s | %s |\n", g.name, g.procs, g.n, f1(g.values["ns/op"]/1e6), f1(g.values["requests/scrape"]), thousands(g.values["allocs/op"]), thousands(g.values["B/op"]/1024))
		}
		w("\n")
	}
}

func (r *report) writeProfiles(w func(string, ...any)) {
	if len(r.profiles) == 0 {
		return
	}
	w("## 6. Profiles\n\n")
	w("A full run profiles the largest 3-broker configuration of section 1; any run also profiles 1,000 bindings × 12 partitions on 3 brokers when that misses its 20 ms target. Top entries by cumulative time.\n\n")
	for _, p := range r.profiles {
		w("### %s\n\n%s\n\n```\n%s\n```\n\n", p.title, p.why, p.top)
	}
}
