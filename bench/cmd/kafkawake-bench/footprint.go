package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkawake/kafkawake/internal/childprocess"
	"github.com/kafkawake/kafkawake/internal/collectortest"
)

// topology is a footprint run's cluster and bindings: binding i reads topic
// i mod topics with its own group, and every even group committed offset 2
// on all the partitions of its topic, which hold 4 records each.
type topology struct {
	brokers, topics, partitions, bindings int
	interval                              time.Duration
	// lean turns off every receiver metric that neither the wake nor the
	// scaling needs, as the README's sizing advice does for large installs.
	lean bool
	// push replaces the Prometheus exporter with the OTLP exporter, which
	// sends every scrape to a local OTLP sink and keeps no copy of it.
	push bool
	// memLimit is the collector's GOMEMLIMIT in this run unless -gomemlimit
	// sets one for every run.
	memLimit string
}

// leanDisabled are the receiver metrics a lean run turns off. Pending,
// consumption, status, ownership and desired replicas stay on.
var leanDisabled = []string{
	"slimfaaskafka.produced_messages", "slimfaaskafka.lost_messages", "slimfaaskafka.partitions",
	"slimfaaskafka.partitions_pending", "slimfaaskafka.stalled_partitions", "slimfaaskafka.group_members",
	"slimfaaskafka.drain_time", "slimfaaskafka.last_activity_timestamp", "slimfaaskafka.pending_age",
}

// name says which run a topology is, in logs, files and tables.
func (t topology) name() string {
	switch {
	case t.lean:
		return fmt.Sprintf("%s, lean metrics", thousands(float64(t.bindings)))
	case t.push:
		return fmt.Sprintf("%s, OTLP push", thousands(float64(t.bindings)))
	}
	return thousands(float64(t.bindings))
}

func (t topology) file() string {
	switch {
	case t.lean:
		return fmt.Sprintf("%d-lean", t.bindings)
	case t.push:
		return fmt.Sprintf("%d-otlp", t.bindings)
	}
	return fmt.Sprint(t.bindings)
}

// standard is whether a run measures the default pipeline with every
// default metric on, which the targets are stated for.
func (t topology) standard() bool { return !t.lean && !t.push }

// withLeanMetrics turns off the metrics of leanDisabled in a config.
func withLeanMetrics(config string) string {
	var b strings.Builder
	b.WriteString("    metrics:\n")
	for _, m := range leanDisabled {
		fmt.Fprintf(&b, "      %s: {enabled: false}\n", m)
	}
	return strings.Replace(config, "    bindings:\n", b.String()+"    bindings:\n", 1)
}

// The footprint runs: the 1,000 bindings every earlier figure compares with,
// and ten times as many bindings over 1,000 topics of 100 partitions each
// (100,000 partitions, 10,000 groups) at 5 s.
var footprints = []topology{
	{brokers: 3, topics: 200, partitions: 12, bindings: 1000, interval: 2 * time.Second},
	// The same bindings pushed with OTLP under a limit near the target:
	// what is left of the footprint without the Prometheus exporter.
	{brokers: 3, topics: 200, partitions: 12, bindings: 1000, interval: 2 * time.Second, push: true, memLimit: "64MiB"},
	{brokers: 3, topics: 1000, partitions: 100, bindings: 10000, interval: 5 * time.Second},
	{brokers: 3, topics: 1000, partitions: 100, bindings: 10000, interval: 5 * time.Second, lean: true},
	// The README's advice for 10,000 bindings: push, with GOMEMLIMIT sized
	// so that the RSS, 34 MiB of binary pages included, stays under the
	// 256 MiB goal (the live heap peaks near 175 MB).
	{brokers: 3, topics: 1000, partitions: 100, bindings: 10000, interval: 5 * time.Second, push: true, memLimit: "210MiB"},
}

// footprintResult is the collector's memory and CPU over a bounded run.
type footprintResult struct {
	topology
	duration                        time.Duration
	samples                         int
	rssStartKB, rssPeakKB, rssEndKB int64
	rssMedianKB                     int64
	wakesBeforePeak                 int     // wake POSTs in the 10 s up to the peak RSS sample
	gcs                             int     // garbage collections during the run (gctrace)
	maxLiveMB, maxGoalMB            int     // the Go heap after GC and the heap goal, at most
	cpuSeconds                      float64 // user + system over the measured window
	cpuPercent                      float64 // of one core, averaged over the window
	maxWindowPercent                float64 // the busiest 10 s window
	wakes                           int     // wake POSTs the endpoint answered (204)
	wakeConns                       int64   // TCP connections opened to the endpoint
	series                          int     // samples in the exporter's last answer, or points pushed per interval
	expositionBytes                 int     // the size of its last answer, or the encoded points pushed per interval
	expositionTimes                 []time.Duration
	requests                        map[string]int64 // Kafka requests by API over the measured window
	memLimit                        string           // the collector's GOMEMLIMIT, if set
	heap                            attribution
	cpu                             attribution // a CPU profile of the window's end
	// rssPeakAnonKB and rssPeakFileKB split the peak sample: the heap,
	// stacks and runtime, and the pages of the binary and its mapped files.
	rssPeakAnonKB, rssPeakFileKB int64
}

// scrapes is how many collection intervals the measured window held.
func (f footprintResult) scrapes() float64 { return f.duration.Seconds() / f.interval.Seconds() }

// cpuPerScrape is the collector's CPU time per collection interval: the
// scrape, the processor, the exporter and the runtime.
func (f footprintResult) cpuPerScrape() time.Duration {
	return time.Duration(f.cpuSeconds / f.scrapes() * float64(time.Second))
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat;
// it is 100 on every Linux architecture Go supports.
const clockTicks = 100

// runFootprint runs the built collector on a topology and samples its RSS
// and CPU time once a second, the Kafka requests it sends, and what its
// Prometheus exporter serves; at the end it takes a heap profile through
// the pprof extension and attributes the live heap by component.
func runFootprint(ctx context.Context, o options, t topology) (footprintResult, error) {
	res := footprintResult{topology: t}
	topics := make([]string, t.topics)
	for i := range topics {
		topics[i] = fmt.Sprintf("topic-%03d", i)
	}
	bindings := make([]binding, t.bindings)
	commits := map[string]string{}
	for i := range bindings {
		bindings[i] = binding{topic: topics[i%t.topics], group: fmt.Sprintf("group-%04d", i), function: fmt.Sprintf("fn-%04d", i)}
		if i%2 == 0 {
			commits[bindings[i].group] = bindings[i].topic
		}
	}
	cluster, err := newCluster(t.brokers, t.partitions, topics)
	if err != nil {
		return res, err
	}
	defer cluster.Close()
	requests := countRequests(cluster)
	producer, err := newProducer(cluster)
	if err != nil {
		return res, err
	}
	defer producer.Close()
	if err := seed(ctx, producer, topics, 4, commits, 2); err != nil {
		return res, err
	}
	endpoint := newWakeEndpoint(1 << 16)
	defer endpoint.close()

	port, err := childprocess.FreePort()
	if err != nil {
		return res, err
	}
	pprofPort, err := childprocess.FreePort()
	if err != nil {
		return res, err
	}
	config := withPprof(collectorConfig(cluster.ListenAddrs(), t.interval, endpoint.srv.URL, "30s", port, bindings), pprofPort)
	if t.lean {
		config = withLeanMetrics(config)
	}
	var sink *pushCounter
	if t.push {
		if sink, err = startPushCounter(); err != nil {
			return res, err
		}
		defer sink.Stop()
		config = collectortest.WithOTLPPush(config, sink.Addr, pushBatchPoints)
	}
	env := []string{"GODEBUG=gctrace=1"} // one line per GC on stderr: the live heap after each
	res.memLimit = t.memLimit
	if o.memLimit != "" {
		res.memLimit = o.memLimit
	}
	if res.memLimit != "" {
		env = append(env, "GOMEMLIMIT="+res.memLimit)
	}
	col, err := collectortest.Start(o.collector, o.workDir, config, port, env...)
	if err != nil {
		return res, err
	}
	defer func() { _ = col.Stop(collectorGrace) }()
	if sink != nil {
		err = sink.waitFor(ctx, col, "slimfaaskafka.wakeups", 3*time.Minute)
	} else {
		err = col.WaitExposing(ctx, "slimfaaskafka_wakeups_total", 3*time.Minute)
	}
	if err != nil {
		return res, err
	}
	pid := col.Pid()
	gcBefore := len(gcTrace.FindAllString(col.Output(), -1))
	requestsBefore := requests.snapshot()
	var pushedBefore, pushedBytesBefore int
	if sink != nil {
		pushedBefore, pushedBytesBefore = sink.received()
	}

	type sample struct {
		at    time.Time
		rss   residentKB
		ticks int64
	}
	var samples []sample
	take := func() error {
		rss, err := readResident(pid)
		if err != nil {
			return err
		}
		ticks, err := cpuTicks(pid)
		if err != nil {
			return err
		}
		samples = append(samples, sample{time.Now(), rss, ticks})
		return nil
	}
	if err := take(); err != nil {
		return res, err
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	end := time.Now().Add(o.footprint)
	// The CPU profile covers the window's end while the loop goes on, so
	// that it sees /metrics read as the rest of the window does.
	profileTime := min(cpuProfileTime, o.footprint)
	var cpuProfile <-chan profileResult
	for time.Now().Before(end) {
		if cpuProfile == nil && !time.Now().Before(end.Add(-profileTime)) {
			cpuProfile = profileCPU(ctx, pprofPort, profileTime)
		}
		select {
		case <-tick.C:
		case <-col.Exited():
			return res, fmt.Errorf("collector exited:\n%s", col.Output())
		case <-ctx.Done():
			return res, ctx.Err()
		}
		if err := take(); err != nil {
			return res, err
		}
		// Read the exporter every 15 s, as a Prometheus server would.
		if sink == nil && len(samples)%15 == 0 {
			start := time.Now()
			if text, err := col.ScrapeText(ctx); err == nil {
				res.expositionTimes = append(res.expositionTimes, time.Since(start))
				res.expositionBytes, res.series = len(text), countSamples(text)
			}
		}
	}
	res.requests = requests.since(requestsBefore)
	if sink != nil {
		points, size := sink.received()
		scrapes := time.Since(samples[0].at).Seconds() / t.interval.Seconds()
		res.series = int(float64(points-pushedBefore) / scrapes)
		res.expositionBytes = int(float64(size-pushedBytesBefore) / scrapes)
	}
	if cpuProfile == nil {
		cpuProfile = profileCPU(ctx, pprofPort, profileTime)
	}
	if res.cpu, err = attributeCPU(<-cpuProfile, o.profiles, t.file()); err != nil {
		return res, err
	}
	if res.heap, err = attributeHeap(ctx, pprofPort, t.interval, o.profiles, t.file()); err != nil {
		return res, err
	}
	first, last := samples[0], samples[len(samples)-1]
	res.samples = len(samples)
	res.duration = last.at.Sub(first.at)
	res.rssStartKB, res.rssEndKB = first.rss.total, last.rss.total
	rss := make([]int64, len(samples))
	var peakAt time.Time
	for i, s := range samples {
		rss[i] = s.rss.total
		if s.rss.total > res.rssPeakKB {
			res.rssPeakKB, peakAt = s.rss.total, s.at
			res.rssPeakAnonKB, res.rssPeakFileKB = s.rss.anon, s.rss.file
		}
		if i >= 10 {
			w := samples[i-10]
			pct := float64(s.ticks-w.ticks) / clockTicks / s.at.Sub(w.at).Seconds() * 100
			res.maxWindowPercent = max(res.maxWindowPercent, pct)
		}
	}
	res.cpuSeconds = float64(last.ticks-first.ticks) / clockTicks
	res.cpuPercent = res.cpuSeconds / res.duration.Seconds() * 100
	res.wakeConns = endpoint.newConns.Load()
	slices.Sort(rss)
	res.rssMedianKB = rss[len(rss)/2]
	for len(endpoint.calls) > 0 {
		call := <-endpoint.calls
		res.wakes++
		if !call.at.After(peakAt) && call.at.After(peakAt.Add(-10*time.Second)) {
			res.wakesBeforePeak++
		}
	}
	for _, m := range gcTrace.FindAllStringSubmatch(col.Output(), -1)[gcBefore:] {
		live, _ := strconv.Atoi(m[1])
		goal, _ := strconv.Atoi(m[2])
		res.gcs++
		res.maxLiveMB, res.maxGoalMB = max(res.maxLiveMB, live), max(res.maxGoalMB, goal)
	}
	return res, col.Stop(collectorGrace)
}

// withPprof adds the pprof extension on port to a collector config.
func withPprof(config string, port int) string {
	return strings.Replace(config, "service:\n", fmt.Sprintf("extensions:\n  pprof:\n    endpoint: 127.0.0.1:%d\nservice:\n  extensions: [pprof]\n", port), 1)
}

// countSamples counts the samples of a Prometheus text exposition: its
// lines that are neither comments nor blank.
func countSamples(text string) int {
	n := 0
	for _, line := range strings.Split(text, "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			n++
		}
	}
	return n
}

// requestCounter counts the requests a kfake cluster receives, by API.
type requestCounter struct {
	mu     sync.Mutex
	counts map[string]int64
}

// countRequests installs an observe-only control on the cluster.
func countRequests(c *kfake.Cluster) *requestCounter {
	rc := &requestCounter{counts: map[string]int64{}}
	c.Control(func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		rc.mu.Lock()
		rc.counts[kmsg.NameForKey(req.Key())]++
		rc.mu.Unlock()
		return nil, nil, false
	})
	return rc
}

func (rc *requestCounter) snapshot() map[string]int64 {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return maps.Clone(rc.counts)
}

// since is the requests counted after before was taken.
func (rc *requestCounter) since(before map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, v := range rc.snapshot() {
		if d := v - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

// gcTrace matches the heap part of a GODEBUG=gctrace=1 line:
// "…, 12->14->7 MB, 15 MB goal, …" (heap at start, at end, live after GC).
var gcTrace = regexp.MustCompile(`\d+->\d+->(\d+) MB, (\d+) MB goal`)

// residentKB is a process's resident memory from /proc/<pid>/status: in
// all (VmRSS), anonymous (RssAnon) and file-backed (RssFile).
type residentKB struct{ total, anon, file int64 }

func readResident(pid int) (residentKB, error) {
	var r residentKB
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return r, err
	}
	fields := map[string]*int64{"VmRSS:": &r.total, "RssAnon:": &r.anon, "RssFile:": &r.file}
	found := 0
	for _, line := range strings.Split(string(data), "\n") {
		for prefix, into := range fields {
			if rest, ok := strings.CutPrefix(line, prefix); ok {
				if *into, err = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64); err != nil {
					return r, fmt.Errorf("/proc/%d/status: %s: %w", pid, prefix, err)
				}
				found++
			}
		}
	}
	if found != len(fields) {
		return r, fmt.Errorf("/proc/%d/status lacks one of VmRSS, RssAnon, RssFile", pid)
	}
	return r, nil
}

// cpuTicks is utime + stime of the process, fields 14 and 15 of
// /proc/<pid>/stat (counted after the parenthesised command name).
func cpuTicks(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	// fields[0] is field 3 (state); utime is field 14, stime field 15.
	if len(fields) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	utime, err := strconv.ParseInt(fields[11], 10, 64)
	if err != nil {
		return 0, err
	}
	stime, err := strconv.ParseInt(fields[12], 10, 64)
	return utime + stime, err
}
