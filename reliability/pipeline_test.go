package reliability

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
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
