package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// collectorGrace is how long a collector may take to stop after SIGTERM
// before it is killed and the run fails.
const collectorGrace = 15 * time.Second

// binding is one (topic, group, function) of a collector config.
type binding struct{ topic, group, function string }

// collectorConfig is the pipeline under test: kafkawake → slimfaaswake →
// Prometheus exporter, with the collector's own telemetry off.
func collectorConfig(brokers []string, interval time.Duration, wakeURL, cooldown string, metricsPort int, bindings []binding) string {
	var b strings.Builder
	for _, bd := range bindings {
		fmt.Fprintf(&b, "      - {topic: %s, consumer_group: %s, function: %s}\n", bd.topic, bd.group, bd.function)
	}
	return fmt.Sprintf(`receivers:
  kafkawake:
    brokers: [%s]
    collection_interval: %s
    bindings:
%sprocessors:
  slimfaaswake:
    endpoint: %s
    defaults:
      cooldown: %s
exporters:
  prometheus:
    endpoint: 127.0.0.1:%d
service:
  telemetry:
    logs:
      level: warn
    metrics:
      level: none
  pipelines:
    metrics:
      receivers: [kafkawake]
      processors: [slimfaaswake]
      exporters: [prometheus]
`, strings.Join(brokers, ", "), interval, b.String(), wakeURL, cooldown, metricsPort)
}

// wakeEndpoint is a fake SlimFaas: it answers every wake with 204 and
// reports the function and the arrival time.
type wakeEndpoint struct {
	srv      *httptest.Server
	calls    chan wakeArrival
	newConns atomic.Int64 // TCP connections the collector opened to it
}

type wakeArrival struct {
	function string
	at       time.Time
}

func newWakeEndpoint(buffer int) *wakeEndpoint {
	w := &wakeEndpoint{calls: make(chan wakeArrival, buffer)}
	w.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		at := time.Now()
		if name, ok := strings.CutPrefix(r.URL.Path, "/wake-function/"); ok && r.Method == http.MethodPost {
			select {
			case w.calls <- wakeArrival{function: name, at: at}:
			default:
			}
		}
		rw.WriteHeader(http.StatusNoContent)
	}))
	w.srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			w.newConns.Add(1)
		}
	}
	w.srv.Start()
	return w
}

func (w *wakeEndpoint) close() { w.srv.Close() }

// newCluster starts an in-process kfake with topics × partitions.
func newCluster(brokers, partitions int, topics []string) (*kfake.Cluster, error) {
	return kfake.NewCluster(kfake.NumBrokers(brokers), kfake.SeedTopics(int32(partitions), topics...),
		kfake.WithLogger(kfake.BasicLogger(io.Discard, kfake.LogLevelNone)))
}

func newProducer(c *kfake.Cluster) (*kgo.Client, error) {
	return kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DisableClientMetrics(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
}

// seed writes records on every partition of topics, and has each given
// group commit offset `at` on every partition of its topic.
func seed(ctx context.Context, cl *kgo.Client, topics []string, recordsPerPartition int, commits map[string]string, at int64) error {
	adm := kadm.NewClient(cl)
	details, err := adm.ListTopics(ctx, topics...)
	if err != nil {
		return err
	}
	var records []*kgo.Record
	for _, td := range details {
		for p := range td.Partitions {
			for range recordsPerPartition {
				records = append(records, &kgo.Record{Topic: td.Topic, Partition: p, Value: []byte("m")})
			}
		}
	}
	if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
		return err
	}
	for group, topic := range commits {
		var offsets kadm.Offsets
		for p := range details[topic].Partitions {
			offsets.Add(kadm.Offset{Topic: topic, Partition: p, At: at, LeaderEpoch: -1})
		}
		if _, err := adm.CommitOffsets(ctx, group, offsets); err != nil {
			return err
		}
	}
	return nil
}
