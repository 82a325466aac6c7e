package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkawake/kafkawake/internal/childprocess"
	"github.com/kafkawake/kafkawake/internal/collectortest"
)

// wakeResult is the wake latency at one collection interval.
type wakeResult struct {
	interval   time.Duration
	bindings   int
	latencies  []time.Duration // sorted
	missed     int             // trials with no wake within the timeout
	unexpected int             // wakes of a binding no trial had produced to
}

func (w wakeResult) quantile(q float64) time.Duration {
	return quantile(w.latencies, q)
}

// runWakeLatency runs the built collector with one idle binding per trial;
// each trial waits a random part of the interval, produces one message for
// the next idle binding and times the arrival of its wake POST.
func runWakeLatency(ctx context.Context, o options, interval time.Duration) (wakeResult, error) {
	return runWakeTrials(ctx, o, interval, func(config string) string { return config })
}

// runWakeTrials is runWakeLatency with the collector configuration passed
// through adjust.
func runWakeTrials(ctx context.Context, o options, interval time.Duration, adjust func(config string) string) (wakeResult, error) {
	res := wakeResult{interval: interval, bindings: o.trials}
	topics := make([]string, o.trials)
	bindings := make([]binding, o.trials)
	for i := range topics {
		topics[i] = fmt.Sprintf("wake-%03d", i)
		bindings[i] = binding{topic: topics[i], group: fmt.Sprintf("wake-group-%03d", i), function: fmt.Sprintf("wake-fn-%03d", i)}
	}
	cluster, err := newCluster(3, 3, topics)
	if err != nil {
		return res, err
	}
	defer cluster.Close()
	producer, err := newProducer(cluster)
	if err != nil {
		return res, err
	}
	defer producer.Close()
	endpoint := newWakeEndpoint(4 * o.trials)
	defer endpoint.close()

	port, err := childprocess.FreePort()
	if err != nil {
		return res, err
	}
	// A long cooldown: each binding wakes once, for its trial.
	col, err := collectortest.Start(o.collector, o.workDir, adjust(collectorConfig(cluster.ListenAddrs(), interval, endpoint.srv.URL, "1h", port, bindings)), port)
	if err != nil {
		return res, err
	}
	defer func() { _ = col.Stop(collectorGrace) }()
	if err := col.WaitExposing(ctx, "slimfaaskafka_pending_messages", time.Minute); err != nil {
		return res, err
	}

	timeout := 3*interval + 5*time.Second
	for i, b := range bindings {
		select {
		case <-time.After(rand.N(interval)): // a random phase against the scrape ticker
		case <-ctx.Done():
			return res, ctx.Err()
		}
		rec := &kgo.Record{Topic: b.topic, Partition: int32(i % 3), Value: []byte("wake up")}
		produced := time.Now()
		if err := producer.ProduceSync(ctx, rec).FirstErr(); err != nil {
			return res, err
		}
		deadline := time.After(timeout)
	wait:
		for {
			select {
			case call := <-endpoint.calls:
				if call.function != b.function {
					res.unexpected++
					continue
				}
				res.latencies = append(res.latencies, call.at.Sub(produced))
				break wait
			case <-deadline:
				res.missed++
				break wait
			case <-col.Exited():
				return res, fmt.Errorf("collector exited:\n%s", col.Output())
			case <-ctx.Done():
				return res, ctx.Err()
			}
		}
	}
	slices.Sort(res.latencies)
	return res, col.Stop(collectorGrace)
}

// quantile is the nearest-rank quantile of sorted durations.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
