// Command kafkawake-bench measures kafkawake and writes docs/benchmarks.md:
// the machine, the method of each figure and the tables. `make bench` runs
// it from the repository root after building the collector.
//
// It runs, in order: the Go benchmarks of the receiver and the processor,
// the receiver's scale matrix and the SlimFaasKafka baseline (a test behind
// the bench build tag, with kfake in a child process), the wake latency and
// the footprint of the built collector binary against an in-process kfake
// and a local wake endpoint, and the takeover delays and group requests of
// several replicas.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

type options struct {
	quick     bool
	out       string
	collector string
	footprint time.Duration
	trials    int
	skip      map[string]bool
	workDir   string
	profiles  string // where the collector's profiles of the footprint runs are kept, if set
	memLimit  string // GOMEMLIMIT of the collector in the footprint runs, if set
	only      string // the one footprint run to make, by its file name (1000, 1000-otlp, 10000, 10000-lean, 10000-otlp), if set
}

func main() {
	var o options
	var skip string
	flag.BoolVar(&o.quick, "quick", false, "a short run: fewer scrapes, 20 wake trials per interval, a 30 s footprint")
	flag.StringVar(&o.out, "out", "docs/benchmarks.md", "the report to write")
	flag.StringVar(&o.collector, "collector", "bin/otelcol-kafkawake", "the built collector binary")
	flag.DurationVar(&o.footprint, "footprint", 0, "how long the footprint run lasts (default 3m, 30s with -quick)")
	flag.IntVar(&o.trials, "trials", 0, "wake trials per collection interval (default 60, 20 with -quick)")
	flag.StringVar(&o.profiles, "profiles", "", "a directory to keep the collector's CPU and heap profiles of the footprint runs in")
	flag.StringVar(&o.memLimit, "gomemlimit", "", "GOMEMLIMIT of the collector in the footprint runs (default: none)")
	flag.StringVar(&o.only, "footprint-only", "", "make only this footprint run: 1000, 1000-otlp, 10000, 10000-lean or 10000-otlp")
	flag.StringVar(&skip, "skip", "", "comma-separated parts to leave out of the report: gobench,scrape,wake,watch,keda,footprint,replicas")
	flag.Parse()
	o.skip = map[string]bool{}
	for _, s := range splitComma(skip) {
		o.skip[s] = true
	}
	if o.footprint == 0 {
		o.footprint = 3 * time.Minute
		if o.quick {
			o.footprint = 30 * time.Second
		}
	}
	if o.trials == 0 {
		o.trials = 60
		if o.quick {
			o.trials = 20
		}
	}
	log.SetFlags(log.Ltime)
	if err := run(o); err != nil {
		log.Fatal(err)
	}
}

func run(o options) error {
	if _, err := os.Stat("go.mod"); err != nil {
		return fmt.Errorf("run from the repository root: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "kafkawake-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	o.workDir = dir

	r := report{quick: o.quick, started: time.Now().UTC(), machine: describeMachine()}
	if !o.skip["gobench"] {
		log.Print("Go benchmarks of the receiver and the processor")
		if r.gobench, r.gobenchRaw, err = runGoBenchmarks(ctx); err != nil {
			return err
		}
	}
	if !o.skip["scrape"] {
		log.Print("scrape matrix and SlimFaasKafka baseline")
		if r.scrapes, err = runScrapeMatrix(ctx, o); err != nil {
			return err
		}
		if err := addProfiles(ctx, o, &r); err != nil {
			return err
		}
	}
	if !o.skip["wake"] || !o.skip["watch"] || !o.skip["keda"] || !o.skip["footprint"] || !o.skip["replicas"] {
		if _, err := os.Stat(o.collector); err != nil {
			return fmt.Errorf("the collector binary (run `make build` first): %w", err)
		}
		if o.collector, err = filepath.Abs(o.collector); err != nil {
			return err
		}
		if st, err := os.Stat(o.collector); err == nil {
			r.binaryMiB = float64(st.Size()) / (1 << 20)
		}
	}
	if !o.skip["wake"] {
		for _, interval := range []time.Duration{2 * time.Second, 500 * time.Millisecond} {
			log.Printf("wake latency at collection_interval %s, %d trials", interval, o.trials)
			w, err := runWakeLatency(ctx, o, interval)
			if err != nil {
				return err
			}
			r.wakes = append(r.wakes, w)
		}
	}
	if !o.skip["watch"] {
		log.Printf("watch: wake latency at %s with %d trials, polls at idle brokers, CPU at idle with 1,000 watched bindings", watchInterval, o.trials)
		if r.watch, err = runWatch(ctx, o); err != nil {
			return err
		}
	}
	if !o.skip["keda"] {
		log.Printf("kedascaler: produce → StreamIsActive true at %s with the watch, %d trials", watchInterval, o.trials)
		if r.keda, err = runKedaLatency(ctx, o); err != nil {
			return err
		}
	}
	if !o.skip["footprint"] {
		for _, t := range footprints {
			if o.only != "" && o.only != t.file() {
				continue
			}
			var scale scrapeResult
			if t.standard() {
				log.Printf("envelope: %d bindings over %d topics × %d partitions, scrapes in process", t.bindings, t.topics, t.partitions)
				if scale, err = runScaleTest(ctx, o, t); err != nil {
					return err
				}
			}
			log.Printf("footprint: the collector with %s bindings at %s for %s", t.name(), t.interval, o.footprint)
			f, err := runFootprint(ctx, o, t)
			if err != nil {
				return err
			}
			r.envelopes = append(r.envelopes, envelope{scale: scale, footprint: f})
		}
	}
	if !o.skip["replicas"] {
		log.Print("several replicas: takeover delays and group requests")
		// The replicas run is an end-to-end test: its failure is reported
		// without losing the sections measured before it.
		if r.replicas, err = runReplicas(ctx, o); err != nil {
			log.Printf("several replicas: %v", err)
			r.replicasErr = err
		}
	}
	r.finished = time.Now().UTC()
	r.loadEnd = loadAvg()
	if err := os.WriteFile(o.out, []byte(r.markdown()), 0o644); err != nil {
		return err
	}
	log.Printf("wrote %s", o.out)
	return nil
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}
