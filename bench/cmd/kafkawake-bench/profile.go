package main

import (
	"context"
	"fmt"
	"log"
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
	// The observation's steps, top-down: read, settle, compute, age, report.
	for _, c := range []struct{ label, suffix string }{
		{"reading Kafka (kafkaread: the batched requests, franz-go and response decoding)", "(*Reader).Read"},
		{"assembling each binding's partitions from the snapshot", "Snapshot.Binding"},
		{"settling residues", "(*kafkaScraper).settle"},
		{"computing pending, consumption and production per binding", "(*kafkaScraper).compute"},
		{"pending age", "(*kafkaScraper).age"},
		{"reporting: health and the data points written into pdata", "(*kafkaScraper).report"},
	} {
		if v := sum(c.suffix); v > 0 {
			parts = append(parts, fmt.Sprintf("%s %.0f %%", c.label, 100*v/scrape))
		}
	}
	text := how + fmt.Sprintf(" Of the scrape's own CPU: %s.", strings.Join(parts, "; "))
	if gc := sum("runtime.gcBgMarkWorker"); gc > 0 && total > 0 {
		text += fmt.Sprintf(" The garbage collector's background marking adds %.0f %% of all samples, driven by the allocations of section 1.", 100*gc/total)
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
