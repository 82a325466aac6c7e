package kedascalerexporter

import (
	"context"
	"testing"
	"time"

	"github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	schema "github.com/kafkawake/kafkawake/internal/metadata"
)

// binding names a binding in test batches.
type binding struct{ alias, topic, group, function string }

var (
	ordersEU = binding{"eu", "orders", "order-processors", "process-orders"}
	ordersUS = binding{"us", "orders", "order-processors", "process-orders"}
	refunds  = binding{"eu", "refunds", "refund-processors", "process-orders"}
)

// batch builds a metric batch as the kafkawake receiver emits it: one
// resource per cluster alias, points stamped at at.
type batch struct {
	md pmetric.Metrics
	at pcommon.Timestamp
}

func newBatch(at time.Time) *batch {
	return &batch{md: pmetric.NewMetrics(), at: pcommon.NewTimestampFromTime(at)}
}

func (b *batch) metric(alias, name string) pmetric.Metric {
	rm := b.md.ResourceMetrics().AppendEmpty()
	if alias != "" {
		rm.Resource().Attributes().PutStr(clusterAliasKey, alias)
	}
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName(name)
	return m
}

func (b *batch) point(dps pmetric.NumberDataPointSlice, bd binding) pmetric.NumberDataPoint {
	dp := dps.AppendEmpty()
	dp.SetTimestamp(b.at)
	dp.Attributes().PutStr(topicKey, bd.topic)
	dp.Attributes().PutStr(groupKey, bd.group)
	dp.Attributes().PutStr(functionKey, bd.function)
	return dp
}

func (b *batch) gaugeInt(name string, bd binding, v int64) *batch {
	b.point(b.metric(bd.alias, name).SetEmptyGauge().DataPoints(), bd).SetIntValue(v)
	return b
}

func (b *batch) pending(bd binding, v int64) *batch {
	return b.gaugeInt(schema.MetricsInfo.SlimfaaskafkaPendingMessages.Name, bd, v)
}

func (b *batch) desired(bd binding, v int64) *batch {
	return b.gaugeInt(schema.MetricsInfo.SlimfaaskafkaDesiredReplicas.Name, bd, v)
}

func (b *batch) age(bd binding, v float64) *batch {
	b.point(b.metric(bd.alias, schema.MetricsInfo.SlimfaaskafkaPendingAge.Name).SetEmptyGauge().DataPoints(), bd).SetDoubleValue(v)
	return b
}

// status adds the binding_status points of bd: 1 for current, 0 for the
// other statuses.
func (b *batch) status(bd binding, current string) *batch {
	dps := b.metric(bd.alias, schema.MetricsInfo.SlimfaaskafkaBindingStatus.Name).SetEmptyGauge().DataPoints()
	for _, s := range []string{statusError, "stalled", "waiting", "falling_behind", "draining", "idle"} {
		dp := b.point(dps, bd)
		dp.Attributes().PutStr(statusAttribute, s)
		if s == current {
			dp.SetIntValue(1)
		} else {
			dp.SetIntValue(0)
		}
	}
	return b
}

func (b *batch) consumed(bd binding, start time.Time, v int64) *batch {
	sum := b.metric(bd.alias, schema.MetricsInfo.SlimfaaskafkaConsumedMessages.Name).SetEmptySum()
	sum.SetIsMonotonic(true)
	sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	dp := b.point(sum.DataPoints(), bd)
	dp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	dp.SetIntValue(v)
	return b
}

// startScaler starts an exporter on a loopback port with KEDA's own client
// connected to it; both stop when the test ends.
func startScaler(t testing.TB, cfg *Config) (*scalerExporter, externalscaler.ExternalScalerClient) {
	t.Helper()
	if cfg == nil {
		cfg = createDefaultConfig().(*Config)
	}
	cfg.NetAddr.Endpoint = "127.0.0.1:0"
	e := newScalerExporter(cfg, componenttestSettings(), time.Now)
	require.NoError(t, e.start(context.Background(), nopHost()))
	t.Cleanup(func() { require.NoError(t, e.shutdown(context.Background())) })
	client, closeConn := dial(t, e.addr)
	t.Cleanup(closeConn)
	return e, client
}

func componenttestSettings() component.TelemetrySettings {
	return componenttest.NewNopTelemetrySettings()
}

func nopHost() component.Host { return componenttest.NewNopHost() }

// dial connects KEDA's generated client to addr.
func dial(t testing.TB, addr string) (externalscaler.ExternalScalerClient, func()) {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	return externalscaler.NewExternalScalerClient(conn), func() { _ = conn.Close() }
}

func (e *scalerExporter) consume(t testing.TB, b *batch) {
	t.Helper()
	require.NoError(t, e.consumeMetrics(context.Background(), b.md))
}

func ref(metadata map[string]string) *externalscaler.ScaledObjectRef {
	return &externalscaler.ScaledObjectRef{Name: "orders-consumer", Namespace: "shop", ScalerMetadata: metadata}
}

// rpcTimeout bounds every call of these tests; generous, never a measure.
const rpcTimeout = 30 * time.Second

func rpcContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), rpcTimeout)
	t.Cleanup(cancel)
	return ctx
}

// statusError is the status of an unreadable binding.
var statusError = schema.AttributeStatusError.String()
