package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/kafkawake/kafkawake/internal/childprocess"
	"github.com/kafkawake/kafkawake/internal/collectortest"
)

// targetKedaP95 is the kedascaler's produce → StreamIsActive true target
// with the watch at a 2 s interval.
const targetKedaP95 = 50 * time.Millisecond

// withKedaScaler adds the kedascaler exporter on port to a configuration
// of collectorConfig, beside the Prometheus exporter.
func withKedaScaler(config string, port int) string {
	config = strings.Replace(config, "exporters:\n  prometheus:", fmt.Sprintf("exporters:\n  kedascaler:\n    endpoint: 127.0.0.1:%d\n  prometheus:", port), 1)
	return strings.Replace(config, "exporters: [prometheus]", "exporters: [prometheus, kedascaler]", 1)
}

// runKedaLatency runs the built collector with the watch on and the
// kedascaler exporter, opens one StreamIsActive stream per idle binding,
// as KEDA does per ScaledObject, then, trial by trial, produces a message
// to the next binding and times the arrival of true on its stream.
func runKedaLatency(ctx context.Context, o options) (wakeResult, error) {
	res := wakeResult{interval: watchInterval, bindings: o.trials}
	topics := make([]string, o.trials)
	bindings := make([]binding, o.trials)
	for i := range topics {
		topics[i] = fmt.Sprintf("keda-%03d", i)
		bindings[i] = binding{topic: topics[i], group: fmt.Sprintf("keda-group-%03d", i), function: fmt.Sprintf("keda-fn-%03d", i)}
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

	metricsPort, err := childprocess.FreePort()
	if err != nil {
		return res, err
	}
	scalerPort, err := childprocess.FreePort()
	if err != nil {
		return res, err
	}
	config := withKedaScaler(withWatch(collectorConfig(cluster.ListenAddrs(), watchInterval, endpoint.srv.URL, "1h", metricsPort, bindings)), scalerPort)
	col, err := collectortest.Start(o.collector, o.workDir, config, metricsPort)
	if err != nil {
		return res, err
	}
	defer func() { _ = col.Stop(collectorGrace) }()
	if err := col.WaitExposing(ctx, "slimfaaskafka_pending_messages", time.Minute); err != nil {
		return res, err
	}
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", scalerPort), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return res, err
	}
	defer conn.Close()
	client := externalscaler.NewExternalScalerClient(conn)
	streamCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	actives := make([]chan time.Time, len(bindings))
	for i, b := range bindings {
		stream, err := client.StreamIsActive(streamCtx, &externalscaler.ScaledObjectRef{
			Name: b.function, Namespace: "bench", ScalerMetadata: map[string]string{"topic": b.topic, "group": b.group},
		})
		if err != nil {
			return res, err
		}
		// The stream's first message is the binding's current state, idle.
		first, err := stream.Recv()
		if err != nil {
			return res, fmt.Errorf("stream of %s: %w", b.function, err)
		}
		if first.GetResult() {
			return res, fmt.Errorf("stream of %s: active before any message", b.function)
		}
		actives[i] = make(chan time.Time, 1)
		go func(active chan<- time.Time) {
			for {
				msg, err := stream.Recv()
				if err != nil {
					return
				}
				if msg.GetResult() {
					select {
					case active <- time.Now():
					default:
					}
				}
			}
		}(actives[i])
	}

	timeout := 3*watchInterval + 5*time.Second
	for i, b := range bindings {
		select {
		case <-time.After(rand.N(watchInterval)): // a random phase against the scrape ticker
		case <-ctx.Done():
			return res, ctx.Err()
		}
		rec := &kgo.Record{Topic: b.topic, Partition: int32(i % 3), Value: []byte("wake up")}
		produced := time.Now()
		if err := producer.ProduceSync(ctx, rec).FirstErr(); err != nil {
			return res, err
		}
		select {
		case at := <-actives[i]:
			res.latencies = append(res.latencies, at.Sub(produced))
		case <-time.After(timeout):
			res.missed++
		case <-col.Exited():
			return res, fmt.Errorf("collector exited:\n%s", col.Output())
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}
	slices.Sort(res.latencies)
	cancel()
	return res, col.Stop(collectorGrace)
}

func (r *report) writeKedaSummary(w func(string, ...any)) {
	k := r.keda
	if k.interval == 0 {
		return
	}
	ok := k.missed == 0 && k.quantile(0.95) <= targetKedaP95
	w("| kedascaler, watch on: produce → StreamIsActive true p95 ≤ 50 ms at 2 s | p95 %s ms, %d/%d trials | %s |\n",
		ms(k.quantile(0.95)), len(k.latencies), len(k.latencies)+k.missed, verdict(ok))
}

func (r *report) writeKeda(w func(string, ...any)) {
	k := r.keda
	if k.interval == 0 {
		return
	}
	w("## 3c. KEDA external scaler: produce → StreamIsActive\n\n")
	w("**Method.** The collector of section 3b (`collection_interval: %s`, watch on) with the `kedascaler` exporter in its pipeline. One `StreamIsActive` stream per idle binding is opened with KEDA's generated client, as KEDA keeps one per ScaledObject; each trial waits a random part of the interval, produces one message to the next binding and times the arrival of `true` on its stream.\n\n", watchInterval)
	w("| Trials | p50 ms | p95 ms | p99 ms | max ms | Target p95 | |\n|---:|---:|---:|---:|---:|---:|---|\n")
	w("| %d | %s | %s | %s | %s | ≤ %s ms | %s |\n\n", len(k.latencies)+k.missed, ms(k.quantile(0.5)), ms(k.quantile(0.95)),
		ms(k.quantile(0.99)), ms(k.quantile(1)), ms(targetKedaP95), verdict(k.missed == 0 && k.quantile(0.95) <= targetKedaP95))
	if k.missed > 0 {
		w("%d trial(s) got no `true` within 3 intervals + 5 s.\n\n", k.missed)
	}
	w("Many streams: the exporter's Go benchmarks (in the raw output below, `./exporter/...`) measure 1,000 open streams over loopback with KEDA's client and one collection of 1,000 bindings waking one of them.\n\n")
}
