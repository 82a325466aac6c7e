package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	pprof "github.com/google/pprof/profile"
)

// heapAttribution is a heap profile's in-use bytes by component.
type heapAttribution struct {
	total  int64
	byPart map[string]int64
}

// heapParts name the components a live heap is attributed to, in the order
// a sample's stack is tested: the first part one of whose packages is on
// the stack takes the sample. The exporters come before pdata because they
// keep their own copies of the points; pdata allocated under none of them
// (the receiver's points and the processor's counters) is in flight
// through the pipeline.
var heapParts = []struct {
	name, why string
	packages  []string
}{
	{"Prometheus exporter", "the exporter's copy of every series and its registry", []string{"prometheusexporter", "github.com/prometheus/"}},
	{"kedascaler exporter", "the selections and streams KEDA opened", []string{"kedascalerexporter"}},
	{"OTLP exporter", "the requests it encodes and sends (OTLP push run only)", []string{"otlpexporter", "google.golang.org/grpc", "google.golang.org/protobuf"}},
	{"pdata in flight", "the receiver's points and the processor's counters on their way through the pipeline", []string{"go.opentelemetry.io/collector/pdata"}},
	{"processor state", "the wake decisions' memory per binding and function", []string{"slimfaaswakeprocessor"}},
	{"Kafka client (franz-go)", "connections, coordinators, decoded answers", []string{"github.com/twmb/franz-go"}},
	{"receiver state", "the memory per binding (positions, histories, tables) and a scrape's assembly", []string{"kafkawakereceiver"}},
	{"collector and runtime", "the service, its telemetry, goroutine stacks", nil},
}

// heapProfiles is how many heap profiles attributeHeap averages: a
// profile is a moment, and a moment may fall inside a scrape or between
// two.
const heapProfiles = 3

// attributeHeap reads heap profiles of a collector's pprof extension, each
// after a garbage collection, spread over a collection interval, and
// averages their attributions. With dir set, the last profile is kept
// there.
func attributeHeap(ctx context.Context, port int, interval time.Duration, dir, name string) (heapAttribution, error) {
	sum := heapAttribution{byPart: map[string]int64{}}
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
		h, err := attribute(prof)
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

// keepCPUProfile writes 10 s of the collector's CPU profile to path.
func keepCPUProfile(ctx context.Context, port int, path string) error {
	data, err := getProfile(ctx, port, "profile?seconds=10")
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
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

func attribute(prof *pprof.Profile) (heapAttribution, error) {
	index := -1
	for i, st := range prof.SampleType {
		if st.Type == "inuse_space" {
			index = i
		}
	}
	if index < 0 {
		return heapAttribution{}, fmt.Errorf("heap profile without inuse_space")
	}
	h := heapAttribution{byPart: map[string]int64{}}
	for _, s := range prof.Sample {
		v := s.Value[index]
		h.total += v
		h.byPart[partOf(s)] += v
	}
	return h, nil
}

func partOf(s *pprof.Sample) string {
	for _, part := range heapParts {
		if part.packages == nil {
			return part.name
		}
		for _, loc := range s.Location {
			for _, line := range loc.Line {
				if line.Function == nil {
					continue
				}
				path := packageOf(line.Function.Name)
				for _, pkg := range part.packages {
					if strings.Contains(path, pkg) {
						return part.name
					}
				}
			}
		}
	}
	return heapParts[len(heapParts)-1].name
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
