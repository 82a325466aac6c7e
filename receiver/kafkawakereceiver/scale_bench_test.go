//go:build bench

// The scale measurements behind docs/benchmarks.md. They only build with the
// bench tag and only run when the harness (bench/cmd/kafkawake-bench) sets
// KAFKAWAKE_BENCH_OUT, so `make test` never runs them.
//
// The Kafka cluster (kfake) runs in a child process, a re-run of this test
// binary in server mode, so that the CPU time and the allocations measured
// here are the receiver's own and not the fake broker's.

package kafkawakereceiver

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/metadata"
)

const (
	benchServerEnv  = "KAFKAWAKE_BENCH_KFAKE_SERVER" // "brokers,partitions,topics"
	benchOutEnv     = "KAFKAWAKE_BENCH_OUT"          // JSON-lines result file
	benchQuickEnv   = "KAFKAWAKE_BENCH_QUICK"        // "1": fewer scrapes and repetitions
	benchProfileEnv = "KAFKAWAKE_BENCH_PROFILE"      // "brokers,partitions,bindings" to profile
	benchScaleEnv   = "KAFKAWAKE_BENCH_SCALE"        // "brokers,topics,partitions,bindings" of the envelope test
	benchHeapEnv    = "KAFKAWAKE_BENCH_HEAP"         // where the envelope test writes the heap profile of the scraper's state
	benchCPUEnv     = "KAFKAWAKE_BENCH_CPU"          // where the envelope test writes the CPU profile of its scrapes

	// benchMaxTopics caps the topics of a cluster: bindings share topics
	// beyond it (binding i reads topic i mod min(bindings, 200)).
	benchMaxTopics = 200
	// benchMaxGroups is the largest number of bindings, one group each.
	benchMaxGroups = 5000
)

// ScrapeResult is one line of the result file, read by the harness.
type ScrapeResult struct {
	Kind       string           `json:"kind"` // "scrape" (kafkawake) or "baseline" (SlimFaasKafka's pattern)
	Set        string           `json:"set"`  // "matrix" or "compare"
	Brokers    int              `json:"brokers"`
	Partitions int              `json:"partitions"`
	Topics     int              `json:"topics"`
	Bindings   int              `json:"bindings"`
	LatencyMS  int              `json:"latency_ms"`
	Checks     int              `json:"checks"` // scrapes, or baseline checks of all bindings
	Requests   map[string]int64 `json:"requests"`
	TotalReqs  int64            `json:"total_requests"`
	P50MS      float64          `json:"p50_ms"`
	P99MS      float64          `json:"p99_ms"`
	MeanMS     float64          `json:"mean_ms"`
	CPUMS      float64          `json:"cpu_ms"` // user+system CPU of this process per check
	CPUP50MS   float64          `json:"cpu_p50_ms"`
	CPUP99MS   float64          `json:"cpu_p99_ms"`
	Allocs     float64          `json:"allocs"`   // heap allocations per check
	AllocKB    float64          `json:"alloc_kb"` // heap bytes allocated per check, KiB
	Pending    int64            `json:"pending"`  // Σ pending over bindings, to cross-check both readers

	// Set by the envelope test only.
	StateKB      float64 `json:"state_kb,omitempty"`      // live heap the scraper keeps between scrapes, KiB
	Series       int     `json:"series,omitempty"`        // data points in one scrape
	Checked      int     `json:"checked,omitempty"`       // random bindings compared with kadm
	CheckSeed    uint64  `json:"check_seed,omitempty"`    // the seed that picked them
	SetupSeconds float64 `json:"setup_seconds,omitempty"` // seeding the cluster and the first scrapes
	// A copy of one scrape's points: the least pdata lets any code allocate
	// and spend for them (each point, its value, its attribute slice and a
	// wrapper per string attribute), so the rest of a scrape's cost is the
	// receiver's and its Kafka client's.
	CopyAllocs float64 `json:"copy_allocs,omitempty"`
	CopyCPUMS  float64 `json:"copy_cpu_ms,omitempty"` // mean, its garbage collection included
}

// TestBenchKafkaServer is the child process: a kfake cluster that counts the
// requests it receives and can add latency to the read requests.
func TestBenchKafkaServer(t *testing.T) {
	spec := os.Getenv(benchServerEnv)
	if spec == "" {
		t.Skip("server mode of the scale benchmark only")
	}
	var brokers, partitions, topics int
	_, err := fmt.Sscanf(spec, "%d,%d,%d", &brokers, &partitions, &topics)
	require.NoError(t, err)
	c, err := kfake.NewCluster(kfake.NumBrokers(brokers), kfake.SeedTopics(int32(partitions), topicNames(topics)...),
		kfake.WithLogger(kfake.BasicLogger(io.Discard, kfake.LogLevelNone)))
	require.NoError(t, err)
	defer c.Close()

	var counts [kmsg.MaxKey + 1]atomic.Int64
	var latency atomic.Int64 // nanoseconds added to each read request
	reads := map[int16]bool{
		int16(kmsg.Metadata): true, int16(kmsg.ListOffsets): true,
		int16(kmsg.OffsetFetch): true, int16(kmsg.FindCoordinator): true,
	}
	c.Control(func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		key := req.Key()
		if key >= 0 && int(key) < len(counts) {
			counts[key].Add(1)
		}
		if d := time.Duration(latency.Load()); d > 0 && reads[key] {
			// Sleeping the control yields the cluster's loop; a plain
			// sleep here would stall every broker.
			c.SleepControl(func() { time.Sleep(d) })
		}
		return nil, nil, false
	})

	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(out, "ADDRS %s\n", strings.Join(c.ListenAddrs(), ","))
	require.NoError(t, out.Flush())
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		fields := strings.Fields(in.Text())
		if len(fields) == 0 {
			continue
		}
		switch fields[0] {
		case "counts":
			m := map[string]int64{}
			for key := range counts {
				if n := counts[key].Load(); n > 0 {
					m[kmsg.NameForKey(int16(key))] = n
				}
			}
			b, _ := json.Marshal(m)
			fmt.Fprintf(out, "COUNTS %s\n", b)
		case "latency":
			ms, err := strconv.Atoi(fields[1])
			require.NoError(t, err)
			latency.Store(int64(time.Duration(ms) * time.Millisecond))
			fmt.Fprintln(out, "OK")
		}
		require.NoError(t, out.Flush())
	}
}

// benchServer is the parent's handle on the child kfake process.
type benchServer struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines *bufio.Scanner
	addrs []string
}

func startBenchServer(t *testing.T, brokers, partitions, topics int) *benchServer {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestBenchKafkaServer$", "-test.count=1")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d,%d,%d", benchServerEnv, brokers, partitions, topics), benchOutEnv+"=")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	s := &benchServer{cmd: cmd, stdin: stdin, lines: bufio.NewScanner(stdout)}
	s.lines.Buffer(make([]byte, 1<<20), 1<<20)
	line := s.expect(t, "ADDRS ")
	s.addrs = strings.Split(line, ",")
	t.Cleanup(func() { s.stop(t) })
	return s
}

func (s *benchServer) expect(t *testing.T, prefix string) string {
	t.Helper()
	for s.lines.Scan() {
		if rest, ok := strings.CutPrefix(s.lines.Text(), prefix); ok {
			return rest
		}
	}
	t.Fatalf("kfake child process ended before %q: %v", prefix, s.lines.Err())
	return ""
}

func (s *benchServer) counts(t *testing.T) map[string]int64 {
	t.Helper()
	_, err := fmt.Fprintln(s.stdin, "counts")
	require.NoError(t, err)
	m := map[string]int64{}
	require.NoError(t, json.Unmarshal([]byte(s.expect(t, "COUNTS ")), &m))
	return m
}

func (s *benchServer) setLatency(t *testing.T, d time.Duration) {
	t.Helper()
	_, err := fmt.Fprintf(s.stdin, "latency %d\n", d.Milliseconds())
	require.NoError(t, err)
	s.expect(t, "OK")
}

func (s *benchServer) stop(t *testing.T) {
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("kfake child process: %v", err)
		}
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
		t.Error("kfake child process did not stop within 30s")
	}
}

// seedBenchCluster writes 4 records on every partition of every topic and
// has every even group commit offset 2 on all partitions of its topic.
func seedBenchCluster(t *testing.T, addrs []string, topics int) {
	t.Helper()
	seedBenchGroups(t, addrs, topics, benchMaxGroups)
}

// seedBenchGroups writes 4 records on every partition and has every even
// group of `groups` commit offset 2 on all partitions of its topic.
func seedBenchGroups(t *testing.T, addrs []string, topics, groups int) {
	t.Helper()
	client, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.DisableClientMetrics(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	require.NoError(t, err)
	defer client.Close()
	ctx := t.Context()
	adm := kadm.NewClient(client)
	details := fillEveryPartition(t, client)

	work := make(chan int)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for i := range work {
				topic := benchTopic(i, topics)
				var offsets kadm.Offsets
				for p := range details[topic].Partitions {
					offsets.Add(kadm.Offset{Topic: topic, Partition: p, At: 2, LeaderEpoch: -1})
				}
				if _, err := adm.CommitOffsets(ctx, benchGroup(i), offsets); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for i := 0; i < groups; i += 2 {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	require.NoError(t, <-errs)
}

func benchTopic(binding, topics int) string { return fmt.Sprintf("topic-%03d", binding%topics) }
func benchGroup(binding int) string         { return fmt.Sprintf("group-%04d", binding) }

func benchBindings(n int) ([]BindingConfig, int) {
	topics := min(n, benchMaxTopics)
	return benchBindingsOver(n, topics), topics
}

// benchBindingsOver binds group-i to topic i mod topics, for i < n.
func benchBindingsOver(n, topics int) []BindingConfig {
	out := make([]BindingConfig, n)
	for i := range out {
		out[i] = BindingConfig{Topic: benchTopic(i, topics), ConsumerGroup: benchGroup(i), Function: fmt.Sprintf("fn-%04d", i)}
	}
	return out
}

// measure runs check at least minChecks times and for at least minTime (at
// most maxChecks times) and measures each run.
type measurement struct {
	durations []time.Duration
	cpus      []time.Duration // each run's CPU time
	cpu       time.Duration
	mallocs   uint64
	bytes     uint64
}

func measure(t *testing.T, minChecks, maxChecks int, minTime time.Duration, check func() int64) (measurement, int64) {
	t.Helper()
	var m measurement
	runtime.GC()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0 := processCPU(t)
	start := time.Now()
	var pending int64
	for i := 0; i < maxChecks && (i < minChecks || time.Since(start) < minTime); i++ {
		t0, c0 := time.Now(), processCPU(t)
		pending = check()
		m.durations = append(m.durations, time.Since(t0))
		m.cpus = append(m.cpus, processCPU(t)-c0)
	}
	m.cpu = processCPU(t) - cpu0
	runtime.ReadMemStats(&ms1)
	m.mallocs = ms1.Mallocs - ms0.Mallocs
	m.bytes = ms1.TotalAlloc - ms0.TotalAlloc
	return m, pending
}

func processCPU(t *testing.T) time.Duration {
	var ru syscall.Rusage
	require.NoError(t, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func percentile(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1 // nearest rank
	i = max(0, min(i, len(sorted)-1))
	return float64(sorted[i]) / float64(time.Millisecond)
}

func (m measurement) result(kind, set string, brokers, partitions, topics, bindings int, latency time.Duration, before, after map[string]int64, pending int64) ScrapeResult {
	n := len(m.durations)
	sorted := slices.Clone(m.durations)
	slices.Sort(sorted)
	var sum time.Duration
	for _, d := range sorted {
		sum += d
	}
	cpus := slices.Clone(m.cpus)
	slices.Sort(cpus)
	r := ScrapeResult{
		Kind: kind, Set: set, Brokers: brokers, Partitions: partitions, Topics: topics, Bindings: bindings,
		LatencyMS: int(latency.Milliseconds()), Checks: n, Requests: map[string]int64{},
		P50MS: percentile(sorted, 0.50), P99MS: percentile(sorted, 0.99),
		MeanMS:   float64(sum) / float64(n) / float64(time.Millisecond),
		CPUMS:    float64(m.cpu) / float64(n) / float64(time.Millisecond),
		CPUP50MS: percentile(cpus, 0.50), CPUP99MS: percentile(cpus, 0.99),
		Allocs:  float64(m.mallocs) / float64(n),
		AllocKB: float64(m.bytes) / float64(n) / 1024,
		Pending: pending,
	}
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			r.Requests[k] = d
			r.TotalReqs += d
		}
	}
	return r
}

// newBenchScraper starts a receiver scraper on bindings and warms it up:
// connections, API versions, coordinators and metadata.
func newBenchScraper(t *testing.T, addrs []string, bindings []BindingConfig) *kafkaScraper {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.Brokers = addrs
	cfg.Bindings = bindings
	require.NoError(t, cfg.Validate())
	s := newKafkaScraper(cfg, receivertest.NewNopSettings(metadata.Type))
	require.NoError(t, s.start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, s.shutdown(context.Background())) })
	for range 3 {
		_, err := s.scrape(t.Context())
		require.NoError(t, err)
	}
	return s
}

// scrapeOnce scrapes and sums the pending points.
func scrapeOnce(t *testing.T, s *kafkaScraper) int64 {
	md, err := s.scrape(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var pending int64
	rms := md.ResourceMetrics()
	for i := range rms.Len() {
		sms := rms.At(i).ScopeMetrics()
		for j := range sms.Len() {
			ms := sms.At(j).Metrics()
			for k := range ms.Len() {
				if m := ms.At(k); m.Name() == "slimfaaskafka.pending_messages" {
					dps := m.Gauge().DataPoints()
					for l := range dps.Len() {
						pending += dps.At(l).IntValue()
					}
				}
			}
		}
	}
	return pending
}

// slimFaasKafkaCheck reads every binding the way SlimFaasKafka does, one
// binding after another: a new client, Metadata for the topic, the group's
// committed offsets (FindCoordinator + OffsetFetch), then one ListOffsets
// per partition to its leader, sequentially, and the client is closed. It
// returns Σ pending with the same rule as the receiver (earliest reset), so
// both readers can be checked against each other.
//
// It is a conservative model: SlimFaasKafka builds two clients per binding
// (an AdminClient and a Consumer) and librdkafka's watermark query may ask for
// the low and the high watermark separately, so the real service sends more.
func slimFaasKafkaCheck(ctx context.Context, addrs []string, bindings []BindingConfig) (int64, error) {
	var pending int64
	for _, b := range bindings {
		n, err := slimFaasKafkaBinding(ctx, addrs, b)
		if err != nil {
			return 0, fmt.Errorf("binding %s: %w", b, err)
		}
		pending += n
	}
	return pending, nil
}

func slimFaasKafkaBinding(ctx context.Context, addrs []string, b BindingConfig) (int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.DisableClientMetrics())
	if err != nil {
		return 0, err
	}
	defer cl.Close()

	mreq := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(b.Topic)
	mreq.Topics = append(mreq.Topics, mt)
	mresp, err := mreq.RequestWith(ctx, cl)
	if err != nil {
		return 0, err
	}
	if len(mresp.Topics) != 1 {
		return 0, fmt.Errorf("metadata: %d topics", len(mresp.Topics))
	}
	if err := kerr.ErrorForCode(mresp.Topics[0].ErrorCode); err != nil {
		return 0, err
	}

	commits, err := kadm.NewClient(cl).FetchOffsets(ctx, b.ConsumerGroup)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return 0, err
	}

	var pending int64
	for _, p := range mresp.Topics[0].Partitions {
		lreq := kmsg.NewPtrListOffsetsRequest()
		lreq.ReplicaID = -1
		lt := kmsg.NewListOffsetsRequestTopic()
		lt.Topic = b.Topic
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.Partition = p.Partition
		lp.CurrentLeaderEpoch = -1
		lp.Timestamp = -1 // the high watermark
		lt.Partitions = append(lt.Partitions, lp)
		lreq.Topics = append(lreq.Topics, lt)
		lresp, err := lreq.RequestWith(ctx, cl.Broker(int(p.Leader)))
		if err != nil {
			return 0, err
		}
		if len(lresp.Topics) != 1 || len(lresp.Topics[0].Partitions) != 1 {
			return 0, errors.New("ListOffsets: unexpected answer shape")
		}
		lo := lresp.Topics[0].Partitions[0]
		if err := kerr.ErrorForCode(lo.ErrorCode); err != nil {
			return 0, err
		}
		// Log starts are 0 here, so HW − commit (or HW) is the same
		// pending value as the receiver's.
		high := lo.Offset
		if c, ok := commits.Lookup(b.Topic, p.Partition); ok && c.Err == nil && c.At >= 0 {
			pending += max(0, high-c.At)
		} else {
			pending += high
		}
	}
	return pending, nil
}

// TestBenchScrape writes the scale matrix and the baseline comparison to the
// file named by KAFKAWAKE_BENCH_OUT, one JSON object per line.
func TestBenchScrape(t *testing.T) {
	outPath := os.Getenv(benchOutEnv)
	if outPath == "" {
		t.Skip("run by bench/cmd/kafkawake-bench")
	}
	quick := os.Getenv(benchQuickEnv) == "1"
	f, err := os.Create(outPath)
	require.NoError(t, err)
	defer f.Close()
	enc := json.NewEncoder(f)
	emit := func(r ScrapeResult) {
		require.NoError(t, enc.Encode(r))
		t.Logf("%s brokers=%d partitions=%d bindings=%d latency=%dms: %d checks, %.1f requests/check %v, p50 %.2f ms, p99 %.2f ms, cpu %.2f ms, %.0f allocs",
			r.Kind, r.Brokers, r.Partitions, r.Bindings, r.LatencyMS, r.Checks, float64(r.TotalReqs)/float64(r.Checks), r.Requests, r.P50MS, r.P99MS, r.CPUMS, r.Allocs)
	}

	minScrapes, maxScrapes, minTime := 30, 300, 3*time.Second
	baselineReps, baselineTime := 3, 20*time.Second
	if quick {
		minScrapes, maxScrapes, minTime = 10, 100, time.Second
		baselineReps, baselineTime = 1, 0
	}
	for _, brokers := range []int{1, 3} {
		for _, partitions := range []int{1, 12, 48} {
			srv := startBenchServer(t, brokers, partitions, benchMaxTopics)
			seedBenchCluster(t, srv.addrs, benchMaxTopics)
			for _, n := range []int{10, 100, 1000, 5000} {
				bindings, topics := benchBindings(n)
				s := newBenchScraper(t, srv.addrs, bindings)
				before := srv.counts(t)
				m, pending := measure(t, minScrapes, maxScrapes, minTime, func() int64 { return scrapeOnce(t, s) })
				emit(m.result("scrape", "matrix", brokers, partitions, topics, n, 0, before, srv.counts(t), pending))
				require.NoError(t, s.shutdown(context.Background()))
			}

			if brokers != 3 || partitions != 12 {
				srv.stop(t)
				continue
			}
			// The baseline, against the same cluster, with and without
			// latency on the read requests.
			for _, latency := range []time.Duration{0, 2 * time.Millisecond} {
				srv.setLatency(t, latency)
				for _, n := range []int{100, 1000} {
					bindings, topics := benchBindings(n)
					s := newBenchScraper(t, srv.addrs, bindings)
					before := srv.counts(t)
					m, pending := measure(t, minScrapes, maxScrapes, minTime, func() int64 { return scrapeOnce(t, s) })
					emit(m.result("scrape", "compare", brokers, partitions, topics, n, latency, before, srv.counts(t), pending))
					require.NoError(t, s.shutdown(context.Background()))

					before = srv.counts(t)
					bm, bpending := measure(t, 1, baselineReps, baselineTime, func() int64 {
						p, err := slimFaasKafkaCheck(t.Context(), srv.addrs, bindings)
						require.NoError(t, err)
						return p
					})
					emit(bm.result("baseline", "compare", brokers, partitions, topics, n, latency, before, srv.counts(t), bpending))
					require.Equal(t, pending, bpending, "the two readers disagree on Σ pending")
				}
			}
			srv.setLatency(t, 0)
			srv.stop(t)
		}
	}
}

// TestBenchScrapeProfile writes a CPU profile of steady-state scrapes of
// KAFKAWAKE_BENCH_PROFILE ("brokers,partitions,bindings") to the file named
// by KAFKAWAKE_BENCH_OUT. Only the scrapes are profiled, not the setup.
func TestBenchScrapeProfile(t *testing.T) {
	spec, outPath := os.Getenv(benchProfileEnv), os.Getenv(benchOutEnv)
	if spec == "" || outPath == "" {
		t.Skip("run by bench/cmd/kafkawake-bench")
	}
	var brokers, partitions, n int
	_, err := fmt.Sscanf(spec, "%d,%d,%d", &brokers, &partitions, &n)
	require.NoError(t, err)
	srv := startBenchServer(t, brokers, partitions, benchMaxTopics)
	seedBenchCluster(t, srv.addrs, benchMaxTopics)
	bindings, _ := benchBindings(n)
	s := newBenchScraper(t, srv.addrs, bindings)

	f, err := os.Create(outPath)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, pprof.StartCPUProfile(f))
	for start := time.Now(); time.Since(start) < 10*time.Second; {
		scrapeOnce(t, s)
	}
	pprof.StopCPUProfile()
}

// TestBenchScale measures the scale envelope, one configuration given by
// KAFKAWAKE_BENCH_SCALE ("brokers,topics,partitions,bindings"; binding i
// reads topic i mod topics with its own group, every even group committed):
// requests, wall and CPU time and allocations per scrape, the live heap the
// scraper keeps between scrapes, and the points of one scrape. It then
// checks the pending value of 20 bindings, picked with a printed seed
// (KAFKAWAKE_BENCH_SEED replays one), against kadm's reading of the same
// cluster. The result is appended to KAFKAWAKE_BENCH_OUT.
func TestBenchScale(t *testing.T) {
	spec, outPath := os.Getenv(benchScaleEnv), os.Getenv(benchOutEnv)
	if spec == "" || outPath == "" {
		t.Skip("run by bench/cmd/kafkawake-bench")
	}
	var brokers, topics, partitions, n int
	_, err := fmt.Sscanf(spec, "%d,%d,%d,%d", &brokers, &topics, &partitions, &n)
	require.NoError(t, err)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("KAFKAWAKE_BENCH_SEED"); s != "" {
		seed, err = strconv.ParseUint(s, 10, 64)
		require.NoError(t, err)
	}
	t.Logf("seed %d (KAFKAWAKE_BENCH_SEED=%d replays the bindings checked against kadm)", seed, seed)

	setup := time.Now()
	srv := startBenchServer(t, brokers, partitions, topics)
	seedBenchGroups(t, srv.addrs, topics, n)
	bindings := benchBindingsOver(n, topics)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s := newBenchScraper(t, srv.addrs, bindings)
	runtime.GC()
	runtime.ReadMemStats(&after)
	setupSeconds := time.Since(setup).Seconds()
	if path := os.Getenv(benchHeapEnv); path != "" {
		writeProfile(t, path, pprof.WriteHeapProfile)
	}

	minScrapes, maxScrapes, minTime := 10, 100, 10*time.Second
	if os.Getenv(benchQuickEnv) == "1" {
		minScrapes, maxScrapes, minTime = 3, 20, 2*time.Second
	}
	counts := srv.counts(t)
	if path := os.Getenv(benchCPUEnv); path != "" {
		f, err := os.Create(path)
		require.NoError(t, err)
		defer f.Close()
		require.NoError(t, pprof.StartCPUProfile(f))
	}
	m, pending := measure(t, minScrapes, maxScrapes, minTime, func() int64 { return scrapeOnce(t, s) })
	pprof.StopCPUProfile()
	r := m.result("scale", "envelope", brokers, partitions, topics, n, 0, counts, srv.counts(t), pending)
	r.StateKB = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / 1024
	r.SetupSeconds = setupSeconds

	md, err := s.scrape(t.Context())
	require.NoError(t, err)
	r.Series = md.DataPointCount()
	copies, _ := measure(t, minScrapes, maxScrapes, minTime, func() int64 {
		md.CopyTo(pmetric.NewMetrics())
		return 0
	})
	copied := copies.result("copy", "envelope", brokers, partitions, topics, n, 0, nil, nil, 0)
	r.CopyAllocs, r.CopyCPUMS = copied.Allocs, copied.CPUMS
	got := pointsByFunction(t, md)
	rng := rand.New(rand.NewPCG(seed, 0))
	client, err := kgo.NewClient(kgo.SeedBrokers(srv.addrs...), kgo.DisableClientMetrics())
	require.NoError(t, err)
	defer client.Close()
	adm := kadm.NewClient(client)
	for range 20 {
		b := bindings[rng.IntN(len(bindings))]
		assert.Equal(t, benchTruth(t, adm, b), got.intValue(t, pendingName, b.Function),
			"pending of binding %s (seed %d)", b, seed)
		r.Checked++
	}
	r.CheckSeed = seed

	f, err := os.OpenFile(outPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, json.NewEncoder(f).Encode(r))
	t.Logf("%d bindings over %d topics × %d partitions on %d brokers: setup %.0f s, %d scrapes, %.1f requests/scrape %v, p50 %.1f ms, p99 %.1f ms, cpu %.1f ms, %.0f allocs, state %.1f MiB, %d points (a copy of them: cpu %.1f ms, %.0f allocs)",
		n, topics, partitions, brokers, setupSeconds, r.Checks, r.requestsPerScrape(), r.Requests, r.P50MS, r.P99MS, r.CPUMS, r.Allocs, r.StateKB/1024, r.Series, r.CopyCPUMS, r.CopyAllocs)
}

func writeProfile(t *testing.T, path string, write func(io.Writer) error) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, write(f))
}

func (r ScrapeResult) requestsPerScrape() float64 { return float64(r.TotalReqs) / float64(r.Checks) }

// benchTruth is a binding's pending value read with kadm alone: Σ over its
// topic's partitions of end − commit, or end − start without a commit (the
// receiver's default offset_reset, earliest).
func benchTruth(t *testing.T, adm *kadm.Client, b BindingConfig) int64 {
	t.Helper()
	ctx := t.Context()
	ends, err := adm.ListEndOffsets(ctx, b.Topic)
	require.NoError(t, errors.Join(err, ends.Error()))
	starts, err := adm.ListStartOffsets(ctx, b.Topic)
	require.NoError(t, errors.Join(err, starts.Error()))
	commits, err := adm.FetchOffsets(ctx, b.ConsumerGroup)
	if !errors.Is(err, kerr.GroupIDNotFound) {
		require.NoError(t, err)
	}
	return groupPendingByKadm(b.Topic, int32(len(ends[b.Topic])), ends, starts, commits)
}
