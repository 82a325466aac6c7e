package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// goBenchmark is one result line of `go test -bench`.
type goBenchmark struct {
	pkg    string
	name   string // without the -GOMAXPROCS suffix
	procs  int
	n      int
	values map[string]float64 // by unit: ns/op, B/op, allocs/op, custom units
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-(\d+))?\s+(\d+)\s+(.+)$`)

func parseGoBenchmarks(out string) []goBenchmark {
	var res []goBenchmark
	pkg := ""
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = p
			continue
		}
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		b := goBenchmark{pkg: pkg, name: m[1], procs: 1, values: map[string]float64{}}
		if m[2] != "" {
			b.procs, _ = strconv.Atoi(m[2])
		}
		b.n, _ = strconv.Atoi(m[3])
		fields := strings.Fields(m[4])
		for i := 0; i+1 < len(fields); i += 2 {
			if v, err := strconv.ParseFloat(fields[i], 64); err == nil {
				b.values[fields[i+1]] = v
			}
		}
		res = append(res, b)
	}
	return medianRuns(res)
}

// goBenchRuns is how often each Go benchmark runs. The machine is shared,
// so one run can land on a busy moment; the tables give the median run.
const goBenchRuns = 3

// medianRuns keeps, of the runs of each benchmark (package, name,
// GOMAXPROCS), the one with the median ns/op, in the order benchmarks first
// appear. A whole run is kept so that its figures stay each other's.
func medianRuns(runs []goBenchmark) []goBenchmark {
	type key struct {
		pkg, name string
		procs     int
	}
	var order []key
	byKey := map[key][]goBenchmark{}
	for _, b := range runs {
		k := key{b.pkg, b.name, b.procs}
		if _, seen := byKey[k]; !seen {
			order = append(order, k)
		}
		byKey[k] = append(byKey[k], b)
	}
	res := make([]goBenchmark, 0, len(order))
	for _, k := range order {
		same := byKey[k]
		slices.SortStableFunc(same, func(a, b goBenchmark) int { return cmp.Compare(a.values["ns/op"], b.values["ns/op"]) })
		res = append(res, same[(len(same)-1)/2])
	}
	return res
}

// runGoBenchmarks runs the components' Go benchmarks on 1 and 2 CPUs,
// goBenchRuns times each.
func runGoBenchmarks(ctx context.Context) ([]goBenchmark, string, error) {
	args := []string{"test", "-run", "^$", "-bench", ".", "-benchmem", "-cpu", "1,2", "-count", strconv.Itoa(goBenchRuns), "-timeout", "20m",
		"./receiver/...", "./processor/...", "./exporter/..."}
	out, err := goCommand(ctx, nil, args...)
	if err != nil {
		return nil, "", err
	}
	return parseGoBenchmarks(out), "go " + strings.Join(args, " ") + "\n\n" + out, nil
}

// scrapeResult mirrors ScrapeResult in the receiver's scale_bench_test.go.
type scrapeResult struct {
	Kind       string           `json:"kind"`
	Set        string           `json:"set"`
	Brokers    int              `json:"brokers"`
	Partitions int              `json:"partitions"`
	Topics     int              `json:"topics"`
	Bindings   int              `json:"bindings"`
	LatencyMS  int              `json:"latency_ms"`
	Checks     int              `json:"checks"`
	Requests   map[string]int64 `json:"requests"`
	TotalReqs  int64            `json:"total_requests"`
	P50MS      float64          `json:"p50_ms"`
	P99MS      float64          `json:"p99_ms"`
	MeanMS     float64          `json:"mean_ms"`
	CPUMS      float64          `json:"cpu_ms"`
	CPUP50MS   float64          `json:"cpu_p50_ms"`
	CPUP99MS   float64          `json:"cpu_p99_ms"`
	Allocs     float64          `json:"allocs"`
	AllocKB    float64          `json:"alloc_kb"`
	Pending    int64            `json:"pending"`

	StateKB      float64 `json:"state_kb"`
	Series       int     `json:"series"`
	Checked      int     `json:"checked"`
	CheckSeed    uint64  `json:"check_seed"`
	SetupSeconds float64 `json:"setup_seconds"`
	CopyAllocs   float64 `json:"copy_allocs"`
	CopyCPUMS    float64 `json:"copy_cpu_ms"`
}

func (r scrapeResult) requestsPerCheck() float64 { return float64(r.TotalReqs) / float64(r.Checks) }

// runScrapeMatrix runs the receiver's bench-tagged scale test, which writes
// one JSON line per measured configuration.
func runScrapeMatrix(ctx context.Context, o options) ([]scrapeResult, error) {
	path := filepath.Join(o.workDir, "scrape.jsonl")
	env := []string{"KAFKAWAKE_BENCH_OUT=" + path}
	if o.quick {
		env = append(env, "KAFKAWAKE_BENCH_QUICK=1")
	}
	if _, err := goCommand(ctx, env, "test", "-tags", "bench", "-run", "^TestBenchScrape$", "-count", "1", "-timeout", "20m", "-v",
		"./receiver/kafkawakereceiver/"); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var res []scrapeResult
	dec := json.NewDecoder(bytes.NewReader(data))
	for dec.More() {
		var r scrapeResult
		if err := dec.Decode(&r); err != nil {
			return nil, err
		}
		res = append(res, r)
	}
	return res, nil
}

// runScaleTest runs the receiver's envelope test on a topology: scrapes in
// process, with kfake in a child process, and 20 random bindings checked
// against kadm.
func runScaleTest(ctx context.Context, o options, t topology) (scrapeResult, error) {
	path := filepath.Join(o.workDir, fmt.Sprintf("scale-%d.jsonl", t.bindings))
	env := []string{"KAFKAWAKE_BENCH_OUT=" + path, fmt.Sprintf("KAFKAWAKE_BENCH_SCALE=%d,%d,%d,%d", t.brokers, t.topics, t.partitions, t.bindings)}
	if o.quick {
		env = append(env, "KAFKAWAKE_BENCH_QUICK=1")
	}
	if _, err := goCommand(ctx, env, "test", "-tags", "bench", "-run", "^TestBenchScale$", "-count", "1", "-timeout", "20m", "-v",
		"./receiver/kafkawakereceiver/"); err != nil {
		return scrapeResult{}, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return scrapeResult{}, err
	}
	var r scrapeResult
	return r, json.Unmarshal(data, &r)
}

// profileScrape profiles steady-state scrapes of one configuration and
// returns the top of `go tool pprof -top`.
func profileScrape(ctx context.Context, o options, brokers, partitions, bindings, lines int) (string, error) {
	prof := filepath.Join(o.workDir, fmt.Sprintf("scrape-%d-%d-%d.pprof", brokers, partitions, bindings))
	env := []string{"KAFKAWAKE_BENCH_OUT=" + prof, fmt.Sprintf("KAFKAWAKE_BENCH_PROFILE=%d,%d,%d", brokers, partitions, bindings)}
	if _, err := goCommand(ctx, env, "test", "-tags", "bench", "-run", "^TestBenchScrapeProfile$", "-count", "1", "-timeout", "10m",
		"./receiver/kafkawakereceiver/"); err != nil {
		return "", err
	}
	out, err := goCommand(ctx, nil, "tool", "pprof", "-top", "-cum", fmt.Sprintf("-nodecount=%d", lines), prof)
	if err != nil {
		return "", err
	}
	// Drop the header lines that name the temporary file.
	var kept []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "File:") || strings.HasPrefix(l, "Build ID:") || strings.HasPrefix(l, "Type:") || strings.HasPrefix(l, "Time:") {
			continue
		}
		kept = append(kept, l)
	}
	return strings.TrimSpace(strings.Join(kept, "\n")), nil
}

func goCommand(ctx context.Context, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, goBin(), args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	log.Printf("  go %s", strings.Join(args, " "))
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String(), nil
}

func goBin() string {
	if g := os.Getenv("GO"); g != "" {
		return g
	}
	return "go"
}
