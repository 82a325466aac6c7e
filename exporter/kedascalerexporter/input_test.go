package kedascalerexporter

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pmetric"

	schema "github.com/kafkawake/kafkawake/internal/metadata"

	"github.com/kafkawake/kafkawake/exporter/kedascalerexporter/internal/scalerstate"
)

func TestClusterAliasKeyIsTheSchemas(t *testing.T) {
	assert.Equal(t, "kafka.cluster.alias", clusterAliasKey)
}

func TestReadPoints(t *testing.T) {
	at := time.Unix(1_800_000_000, 0).UTC()
	start := at.Add(-time.Hour)
	b := newBatch(at).
		pending(ordersEU, 7).
		age(ordersEU, 1.5).
		desired(ordersEU, 2).
		consumed(ordersEU, start, 40).
		status(ordersEU, statusError).
		gaugeInt(schema.MetricsInfo.SlimfaaskafkaLastActivityTimestamp.Name, binding{"", "t", "g", "f"}, 1_799_999_990)

	// Skipped: a point without the function attribute, a delta counter, a
	// metric the exporter does not read.
	b.metric("", schema.MetricsInfo.SlimfaaskafkaPendingMessages.Name).SetEmptyGauge().DataPoints().AppendEmpty().SetIntValue(3)
	delta := b.metric("eu", schema.MetricsInfo.SlimfaaskafkaConsumedMessages.Name).SetEmptySum()
	delta.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	b.point(delta.DataPoints(), ordersEU).SetIntValue(1)
	b.gaugeInt(schema.MetricsInfo.SlimfaaskafkaWakeups.Name, ordersEU, 1)

	key := scalerstate.BindingKey{ClusterAlias: "eu", Topic: "orders", Group: "order-processors", Function: "process-orders"}
	p := func(kind scalerstate.Kind, v float64) scalerstate.Point {
		return scalerstate.Point{Key: key, Kind: kind, Value: v, Time: at, StartTime: time.Unix(0, 0).UTC()}
	}
	consumed := p(scalerstate.Consumed, 40)
	consumed.StartTime = start
	status := p(scalerstate.Status, 1)
	status.Unreadable = true
	activity := p(scalerstate.LastActivity, 1_799_999_990)
	activity.Key = scalerstate.BindingKey{Topic: "t", Group: "g", Function: "f"}

	assert.Equal(t, []scalerstate.Point{
		p(scalerstate.Pending, 7),
		p(scalerstate.Age, 1.5),
		p(scalerstate.Desired, 2),
		consumed,
		status, // only the current status (value 1)
		activity,
	}, readPoints(nil, b.md))
}
