package reliability

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	schema "github.com/kafkawake/kafkawake/internal/metadata"
	"github.com/kafkawake/kafkawake/processor/slimfaaswakeprocessor"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const interval = 250 * time.Millisecond

// pipeline is the receiver feeding the processor feeding a sink, as the
// collector wires them, with every log line kept.
type pipeline struct {
	sink     *consumertest.MetricsSink // nil when the output goes elsewhere
	logs     *observer.ObservedLogs
	rcv      receiver.Metrics
	proc     processor.Metrics
	stopOnce sync.Once
}

func receiverConfig(brokers []string, bindings ...kafkawakereceiver.BindingConfig) *kafkawakereceiver.Config {
	cfg := kafkawakereceiver.NewFactory().CreateDefaultConfig().(*kafkawakereceiver.Config)
	cfg.Brokers = brokers
	cfg.CollectionInterval = interval
	cfg.Timeout = 400 * time.Millisecond
	cfg.Bindings = bindings
	return cfg
}

func processorConfig(endpoint string) *slimfaaswakeprocessor.Config {
	cfg := slimfaaswakeprocessor.NewFactory().CreateDefaultConfig().(*slimfaaswakeprocessor.Config)
	cfg.ClientConfig.Endpoint = endpoint
	cfg.ClientConfig.Timeout = 300 * time.Millisecond
	cfg.Defaults.Cooldown = time.Hour
	cfg.RetryOnFailure.InitialInterval = 50 * time.Millisecond
	cfg.RetryOnFailure.MaxInterval = 200 * time.Millisecond
	return cfg
}

func startPipeline(t *testing.T, rcfg *kafkawakereceiver.Config, pcfg *slimfaaswakeprocessor.Config) *pipeline {
	t.Helper()
	return startPipelineOn(t, componenttest.NewNopHost(), rcfg, pcfg)
}

// startPipelineOn starts a pipeline on a host that may run extensions.
func startPipelineOn(t *testing.T, host component.Host, rcfg *kafkawakereceiver.Config, pcfg *slimfaaswakeprocessor.Config) *pipeline {
	t.Helper()
	sink := &consumertest.MetricsSink{}
	p := startPipelineWith(t, host, rcfg, pcfg, sink, zapcore.DebugLevel)
	p.sink = sink
	return p
}

// startPipelineTo starts a pipeline that hands its output to next, keeping
// the log lines from level up.
func startPipelineTo(t *testing.T, rcfg *kafkawakereceiver.Config, pcfg *slimfaaswakeprocessor.Config, next consumer.Metrics, level zapcore.Level) *pipeline {
	t.Helper()
	return startPipelineWith(t, componenttest.NewNopHost(), rcfg, pcfg, next, level)
}

func startPipelineWith(t *testing.T, host component.Host, rcfg *kafkawakereceiver.Config, pcfg *slimfaaswakeprocessor.Config, next consumer.Metrics, level zapcore.Level) *pipeline {
	t.Helper()
	require.NoError(t, rcfg.Validate())
	require.NoError(t, pcfg.Validate())
	core, logs := observer.New(level)
	logger := zap.New(core)
	p := &pipeline{logs: logs}

	pset := processortest.NewNopSettings(component.MustNewType("slimfaaswake"))
	pset.Logger = logger
	var err error
	p.proc, err = slimfaaswakeprocessor.NewFactory().CreateMetrics(context.Background(), pset, pcfg, next)
	require.NoError(t, err)
	rset := receivertest.NewNopSettings(component.MustNewType("kafkawake"))
	rset.Logger = logger
	p.rcv, err = kafkawakereceiver.NewFactory().CreateMetrics(context.Background(), rset, rcfg, p.proc)
	require.NoError(t, err)

	require.NoError(t, p.proc.Start(context.Background(), host))
	require.NoError(t, p.rcv.Start(context.Background(), host))
	t.Cleanup(p.stop)
	return p
}

// stop shuts the pipeline down, receiver first as the collector does; it
// may be called more than once.
func (p *pipeline) stop() {
	p.stopOnce.Do(func() {
		_ = p.rcv.Shutdown(context.Background())
		_ = p.proc.Shutdown(context.Background())
	})
}

// pendingValues returns, for one function, the pending values of every
// batch so far, in order.
func (p *pipeline) pendingValues(function string) []int64 {
	var values []int64
	for _, md := range p.sink.AllMetrics() {
		forEachPoint(md, schema.MetricsInfo.SlimfaaskafkaPendingMessages.Name, func(attrs map[string]any, dp pmetric.NumberDataPoint) {
			if attrs["function"] == function {
				values = append(values, dp.IntValue())
			}
		})
	}
	return values
}

// counter returns the latest value of a wake counter for one function,
// summed over reasons.
func (p *pipeline) counter(name, function string) int64 {
	all := p.sink.AllMetrics()
	var total int64
	for i := len(all) - 1; i >= 0; i-- {
		found := false
		forEachPoint(all[i], name, func(attrs map[string]any, dp pmetric.NumberDataPoint) {
			if attrs["function"] == function {
				total += dp.IntValue()
				found = true
			}
		})
		if found {
			return total
		}
	}
	return 0
}

func forEachPoint(md pmetric.Metrics, name string, fn func(map[string]any, pmetric.NumberDataPoint)) {
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				if m.Name() != name {
					continue
				}
				var points pmetric.NumberDataPointSlice
				switch m.Type() {
				case pmetric.MetricTypeGauge:
					points = m.Gauge().DataPoints()
				case pmetric.MetricTypeSum:
					points = m.Sum().DataPoints()
				default:
					continue
				}
				for _, dp := range points.All() {
					fn(dp.Attributes().AsRaw(), dp)
				}
			}
		}
	}
}

// batches is the number of batches the sink has received.
func (p *pipeline) batches() int { return len(p.sink.AllMetrics()) }

// waitBatches waits until n more batches have arrived.
func (p *pipeline) waitBatches(t *testing.T, n int) {
	t.Helper()
	target := p.batches() + n
	require.Eventually(t, func() bool { return p.batches() >= target }, time.Duration(n)*interval+30*time.Second, 10*time.Millisecond)
}

// slimFaas is a scripted wake endpoint.
type slimFaas struct {
	srv *httptest.Server
	mu  sync.Mutex
	// respond answers one call; nil answers 204.
	respond      func(w http.ResponseWriter, r *http.Request)
	successes    map[string]int
	firstSuccess map[string]time.Time
	calls        map[string]int
}

func newSlimFaas(t *testing.T) *slimFaas {
	t.Helper()
	s := &slimFaas{successes: map[string]int{}, firstSuccess: map[string]time.Time{}, calls: map[string]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		respond := s.respond
		s.calls[r.URL.Path]++
		s.mu.Unlock()
		if respond != nil {
			respond(w, r)
			return
		}
		s.mu.Lock()
		if s.successes[r.URL.Path] == 0 {
			s.firstSuccess[r.URL.Path] = time.Now()
		}
		s.successes[r.URL.Path]++
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// script makes respond answer the calls from now on; nil answers 204.
func (s *slimFaas) script(respond func(w http.ResponseWriter, r *http.Request)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.respond = respond
}

func (s *slimFaas) successesFor(function string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.successes["/wake-function/"+function]
}

func (s *slimFaas) totalSuccesses() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	total := 0
	for _, n := range s.successes {
		total += n
	}
	return total
}

func (s *slimFaas) firstSuccessFor(function string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.firstSuccess["/wake-function/"+function]
}

func (s *slimFaas) callsFor(function string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls["/wake-function/"+function]
}

// kafka is an in-process cluster with a client to arrange data.
type kafka struct {
	cluster *kfake.Cluster
	client  *kgo.Client
	adm     *kadm.Client
}

func newKafka(t *testing.T, opts ...kfake.Opt) *kafka {
	t.Helper()
	cluster, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(3)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(cluster.Close)
	client, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.DisableClientMetrics(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		// Produce retries until delivered; during a fault that is never.
		kgo.RecordDeliveryTimeout(5*time.Second))
	require.NoError(t, err)
	t.Cleanup(client.Close)
	return &kafka{cluster: cluster, client: client, adm: kadm.NewClient(client)}
}

func (k *kafka) produce(t *testing.T, topic string, partition int32, n int) {
	t.Helper()
	records := make([]*kgo.Record, n)
	for i := range records {
		records[i] = &kgo.Record{Topic: topic, Partition: partition, Value: []byte("m")}
	}
	require.NoError(t, k.client.ProduceSync(t.Context(), records...).FirstErr())
}

func (k *kafka) commit(t *testing.T, group, topic string, partition int32, at int64) {
	t.Helper()
	var offsets kadm.Offsets
	offsets.Add(kadm.Offset{Topic: topic, Partition: partition, At: at, LeaderEpoch: -1})
	resp, err := k.adm.CommitOffsets(t.Context(), group, offsets)
	require.NoError(t, err)
	require.NoError(t, resp.Error())
}
