package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	pprof "github.com/google/pprof/profile"
)

// attribution is a profile's value (in-use bytes, CPU time) by component.
type attribution struct {
	total    int64
	byPart   map[string]int64
	duration time.Duration // how long a CPU profile lasted
}

// component names a part of the collector a profile's samples are
// attributed to: the first part of a list one of whose packages or
// functions is on a sample's stack takes the sample.
type component struct {
	name, why string
	packages  []string // import paths, or parts of them
	functions []string // whole function names, for the runtime's own goroutines
}

// heapParts are the components a live heap is attributed to. The exporters
// come before pdata because they keep their own copies of the points; pdata
// allocated under none of them (the receiver's points and the processor's
// counters) is in flight through the pipeline.
var heapParts = []component{
	{name: "Prometheus exporter", why: "the exporter's copy of every series and its registry", packages: []string{"prometheusexporter", "github.com/prometheus/"}},
	{name: "kedascaler exporter", why: "the selections and streams KEDA opened", packages: []string{"kedascalerexporter"}},
	{name: "OTLP exporter", why: "the requests it encodes and sends (OTLP push run only)", packages: []string{"otlpexporter", "google.golang.org/grpc", "google.golang.org/protobuf"}},
	{name: "pdata in flight", why: "the receiver's points and the processor's counters on their way through the pipeline", packages: []string{"go.opentelemetry.io/collector/pdata"}},
	{name: "processor state", why: "the wake decisions' memory per binding and function", packages: []string{"slimfaaswakeprocessor"}},
	{name: "Kafka client (franz-go)", why: "connections, coordinators, decoded answers", packages: []string{"github.com/twmb/franz-go"}},
	{name: "receiver state", why: "the memory per binding (positions, histories, tables) and a scrape's assembly", packages: []string{"kafkawakereceiver"}},
	{name: "collector and runtime", why: "the service, its telemetry, goroutine stacks"},
}

// cpuParts are the components CPU time is attributed to. pdata is no part
// of its own here: writing points is the work of the component that writes
// them. An allocation's share of garbage collection that the allocating
// goroutine does itself (an assist) stays with its component; the
// collector's background collection is a part of its own.
var cpuParts = []component{
	{name: "Prometheus exporter", why: "keeping every series, and rendering /metrics", packages: []string{"prometheusexporter", "github.com/prometheus/"}},
	{name: "kedascaler exporter", why: "answering KEDA", packages: []string{"kedascalerexporter"}},
	{name: "OTLP exporter", why: "encoding and sending (OTLP push run only)", packages: []string{"otlpexporter", "google.golang.org/grpc", "google.golang.org/protobuf"}},
	{name: "slimfaaswake processor", why: "wake decisions, counters, wake calls", packages: []string{"slimfaaswakeprocessor"}},
	{name: "kafkawake receiver", why: "the scrape: reading, computing, writing the points", packages: []string{"kafkawakereceiver"}},
	{name: "Kafka client (franz-go)", why: "its connections: sending, reading and decoding answers", packages: []string{"github.com/twmb/franz-go"}},
	{name: "garbage collection", why: "the runtime's background marking, sweeping and scavenging", functions: []string{"runtime.gcBgMarkWorker", "runtime.bgsweep", "runtime.bgscavenge"}},
	{name: "collector and runtime", why: "the service, the batch processor, HTTP, the scheduler"},
}

// heapProfiles is how many heap profiles attributeHeap averages: a
// profile is a moment, and a moment may fall inside a scrape or between
// two.
const heapProfiles = 3

// attributeHeap reads heap profiles of a collector's pprof extension, each
// after a garbage collection, spread over a collection interval, and
// averages their attributions. With dir set, the last profile is kept
// there.
func attributeHeap(ctx context.Context, port int, interval time.Duration, dir, name string) (attribution, error) {
	sum := attribution{byPart: map[string]int64{}}
	for i := range heapProfiles {
		if i > 0 {
			select {
			case <-time.After(interval / heapProfiles):
			case <-ctx.Done():
				return sum, ctx.Err()
			}
		}
		data, err := getProfile(ctx, port, "heap?gc=1")
		if err != nil {
			return sum, err
		}
		if dir != "" {
			if err := os.WriteFile(filepath.Join(dir, "heap-"+name+".pprof"), data, 0o644); err != nil {
				return sum, err
			}
		}
		prof, err := pprof.ParseData(data)
		if err != nil {
			return sum, fmt.Errorf("heap profile: %w", err)
		}
		h, err := attribute(prof, "inuse_space", heapParts)
		if err != nil {
			return sum, err
		}
		sum.total += h.total / heapProfiles
		for part, v := range h.byPart {
			sum.byPart[part] += v / heapProfiles
		}
	}
	return sum, nil
}

// cpuProfileTime is how long the CPU profile of a footprint run lasts: the
// end of the measured window, or all of a shorter one.
const cpuProfileTime = 30 * time.Second

// profileCPU starts a CPU profile of the collector that lasts d, and
// delivers it on the returned channel.
func profileCPU(ctx context.Context, port int, d time.Duration) <-chan profileResult {
	done := make(chan profileResult, 1)
	go func() {
		data, err := getProfile(ctx, port, fmt.Sprintf("profile?seconds=%d", int(d.Seconds())))
		done <- profileResult{data, err}
	}()
	return done
}

// percentOfACore is CPU time of a CPU profile's in percent of one core over
// the profile.
func (a attribution) percentOfACore(cpu int64) float64 {
	if a.duration <= 0 {
		return 0
	}
	return 100 * float64(cpu) / float64(a.duration)
}

// largest names the n components of a CPU profile that took the most time.
func (a attribution) largest(n int) string {
	parts := slices.Clone(cpuParts)
	slices.SortStableFunc(parts, func(x, y component) int { return cmp.Compare(a.byPart[y.name], a.byPart[x.name]) })
	var named []string
	for _, p := range parts[:min(n, len(parts))] {
		if a.byPart[p.name] > 0 {
			named = append(named, fmt.Sprintf("%s %.2f %%", p.name, a.percentOfACore(a.byPart[p.name])))
		}
	}
	if len(named) == 0 {
		return ""
	}
	return "; the most at the window's end: " + strings.Join(named, ", ")
}

type profileResult struct {
	data []byte
	err  error
}

// attributeCPU attributes a CPU profile's time by component, and keeps the
// profile in dir when dir is set.
func attributeCPU(p profileResult, dir, name string) (attribution, error) {
	if p.err != nil {
		return attribution{}, p.err
	}
	if dir != "" {
		if err := os.WriteFile(filepath.Join(dir, "cpu-"+name+".pprof"), p.data, 0o644); err != nil {
			return attribution{}, err
		}
	}
	prof, err := pprof.ParseData(p.data)
	if err != nil {
		return attribution{}, fmt.Errorf("CPU profile: %w", err)
	}
	a, err := attribute(prof, "cpu", cpuParts)
	a.duration = time.Duration(prof.DurationNanos)
	return a, err
}

func getProfile(ctx context.Context, port int, what string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/%s", port, what), http.NoBody)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("profile %s: %s", what, resp.Status)
	}
	return io.ReadAll(resp.Body)
}

// attribute sums a profile's values of one sample type by the parts
// their stacks belong to.
func attribute(prof *pprof.Profile, sampleType string, parts []component) (attribution, error) {
	index := -1
	for i, st := range prof.SampleType {
		if st.Type == sampleType {
			index = i
		}
	}
	if index < 0 {
		return attribution{}, fmt.Errorf("profile without %s samples", sampleType)
	}
	a := attribution{byPart: map[string]int64{}}
	for _, s := range prof.Sample {
		v := s.Value[index]
		a.total += v
		a.byPart[partOf(s, parts)] += v
	}
	return a, nil
}

// partOf is the first of parts on the sample's stack, or the last part,
// which takes the rest.
func partOf(s *pprof.Sample, parts []component) string {
	for _, part := range parts[:len(parts)-1] {
		for _, loc := range s.Location {
			for _, line := range loc.Line {
				if line.Function != nil && part.has(line.Function.Name) {
					return part.name
				}
			}
		}
	}
	return parts[len(parts)-1].name
}

// has tells whether a function belongs to the part.
func (c component) has(function string) bool {
	if slices.Contains(c.functions, function) {
		return true
	}
	path := packageOf(function)
	for _, pkg := range c.packages {
		if strings.Contains(path, pkg) {
			return true
		}
	}
	return false
}

// packageOf is the import path of a function's package, from its symbol
// name. The type parameters of a generic function's shape are cut first:
// they name other packages ("…Controller[…pdata/pmetric.Metrics…]").
func packageOf(function string) string {
	if i := strings.IndexByte(function, '['); i >= 0 {
		function = function[:i]
	}
	slash := strings.LastIndexByte(function, '/') + 1
	if dot := strings.IndexByte(function[slash:], '.'); dot >= 0 {
		return function[:slash+dot]
	}
	return function
}
