package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"
)

// addProfiles profiles the scrape when its wall-time target is missed, and
// the largest scrape of a full run, whose time grows faster than its
// bindings.
func addProfiles(ctx context.Context, o options, r *report) error {
	type config struct{ brokers, partitions, bindings int }
	var configs []config
	if r.scrapeTargetMissed() {
		configs = append(configs, config{targetBrokers, targetPartitions, targetBindings})
	}
	if !o.quick {
		configs = append(configs, config{largestBrokerCount, largestPartitions, largestBindings})
	}
	for _, c := range configs {
		log.Printf("CPU profile of scrapes of %d bindings × %d partitions on %d brokers", c.bindings, c.partitions, c.brokers)
		top, err := profileScrape(ctx, o, c.brokers, c.partitions, c.bindings, profileLines)
		if err != nil {
			return err
		}
		title := fmt.Sprintf("Scrape of %s bindings × %d partitions on %d brokers", thousands(float64(c.bindings)), c.partitions, c.brokers)
		r.profiles = append(r.profiles, profile{title: title, why: explainScrapeProfile(top, c.bindings), top: top})
	}
	return nil
}

// explainScrapeProfile reads where the scrape's CPU goes out of
// `pprof -top -cum` output.
func explainScrapeProfile(top string, bindings int) string {
	cum := map[string]float64{}
	var total float64
	for _, line := range strings.Split(top, "\n") {
		if rest, ok := strings.CutPrefix(line, "Showing nodes accounting for "); ok {
			// "Showing nodes accounting for 2.78s, 27.10% of 10.26s total"
			if _, after, ok := strings.Cut(rest, " of "); ok {
				total, _ = seconds(strings.Fields(after)[0])
			}
			continue
		}
		f := strings.Fields(line)
		if len(f) < 6 {
			continue
		}
		if v, ok := seconds(f[3]); ok {
			name := strings.Join(f[5:], " ")
			cum[name] += v
		}
	}
	sum := func(suffix string) float64 {
		var v float64
		for name, c := range cum {
			if strings.HasSuffix(name, suffix) {
				v += c
			}
		}
		return v
	}
	how := fmt.Sprintf("A CPU profile (`go tool pprof -top -cum`) of 10 s of back-to-back scrapes of %s bindings, with kfake in its child process, so every sample is the receiver's process.", thousands(float64(bindings)))
	scrape := sum("(*kafkaScraper).scrape")
	if scrape == 0 {
		return how
	}
	parts := []string{}
	for _, c := range []struct{ label, suffix string }{
		{"reading Kafka (offsetReader.read: kadm, franz-go and response decoding)", "(*offsetReader).read"},
		{"assembling each binding's partitions (offsetsOf)", "clusterOffsets.offsetsOf"},
		{"pending and consumption per binding (bindingState.observe)", "(*bindingState).observe"},
		{"the generated MetricsBuilder's recordDataPoint", ").recordDataPoint"},
	} {
		if v := sum(c.suffix); v > 0 {
			parts = append(parts, fmt.Sprintf("%s %.0f %%", c.label, 100*v/scrape))
		}
	}
	text := how + fmt.Sprintf(" Of the scrape's own CPU: %s.", strings.Join(parts, "; "))
	if gc := sum("runtime.gcBgMarkWorker"); gc > 0 && total > 0 {
		text += fmt.Sprintf(" The garbage collector's background marking adds %.0f %% of all samples, driven by the allocations of section 1.", 100*gc/total)
	}
	if record := sum(").recordDataPoint"); record/scrape >= 0.3 {
		text += fmt.Sprintf(` **recordDataPoint dominates**: the generated code (internal/metadata/generated_metrics.go, mdatagen %s as pinned in internal/tools/go.mod) `+
			`scans every data point already recorded for the metric and compares attribute maps before appending, so recording one point per binding is O(bindings²) per scrape. `+
			`This is a known upstream problem (open-telemetry/opentelemetry-collector PR #15914, "use O(1) hash lookup in recordDataPoint instead of O(n) scan").`, mdatagenVersion())
	}
	return text
}

// seconds parses a pprof duration such as 6.88s, 880ms or 0.
func seconds(s string) (float64, bool) {
	scale := 1.0
	switch {
	case strings.HasSuffix(s, "ms"):
		s, scale = strings.TrimSuffix(s, "ms"), 1e-3
	case strings.HasSuffix(s, "us"):
		s, scale = strings.TrimSuffix(s, "us"), 1e-6
	case strings.HasSuffix(s, "s"):
		s = strings.TrimSuffix(s, "s")
	}
	v, err := strconv.ParseFloat(s, 64)
	return v * scale, err == nil
}

func mdatagenVersion() string {
	data, err := os.ReadFile("internal/tools/go.mod")
	if err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "go.opentelemetry.io/collector/cmd/mdatagen" {
				return f[1]
			}
		}
	}
	return "(version unknown)"
}
