package slimfaaswakeprocessor

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"

	schema "github.com/kafkawake/kafkawake/internal/metadata"
	"github.com/kafkawake/kafkawake/processor/slimfaaswakeprocessor/internal/metadata"
)

// FuzzProcessMetrics feeds arbitrary metrics to the processor, three times,
// the clock moving by a second and then past the binding expiry, and checks
// that it neither panics nor fails, that the input comes out untouched apart
// from at most one appended wake-counter scope per resource, and that the
// counters of a resource belong to bindings that resource carried. The first
// byte picks how the rest is read: as OTLP protobuf, or as choices for a
// generator that favours the processor's own metric names and attributes
// with wrong types, duplicated points and unordered timestamps, spread over
// resources that share or differ in their attributes.
func FuzzProcessMetrics(f *testing.F) {
	seed, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(batch(
		[]point{pendingPoint("t", "g", "f", 3), consumedPoint("t", "g", "f", 10)},
		[]point{pendingPoint("t", "g", "f", 0)},
	))
	require.NoError(f, err)
	f.Add(append([]byte{0}, seed...))
	// The same triple in two resources with the same attributes.
	sameResource := batch(
		[]point{pendingPoint("t", "g", "f", 3), consumedPoint("t", "g", "f", 10)},
		[]point{consumedPoint("t", "g", "f", 50)},
	)
	resourceAttributes(0).CopyTo(sameResource.ResourceMetrics().At(1).Resource().Attributes())
	seed, err = (&pmetric.ProtoMarshaler{}).MarshalMetrics(sameResource)
	require.NoError(f, err)
	f.Add(append([]byte{0}, seed...))
	f.Add([]byte{1, 2, 1, 3, 0, 0, 1, 3, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 9, 5, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 12})
	f.Add([]byte{1, 0, 0, 2, 1, 1, 2, 3, 2, 2, 2, 1, 0xff, 0xf8, 0, 0, 0, 0, 0, 1, 7, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, data []byte) {
		build := func() (pmetric.Metrics, bool) {
			if len(data) > 0 && data[0]%2 == 0 {
				md, err := (&pmetric.ProtoUnmarshaler{}).UnmarshalMetrics(data[1:])
				return md, err == nil
			}
			return generateMetrics(data), true
		}
		if _, ok := build(); !ok {
			t.Skip("not OTLP protobuf")
		}

		cfg := configFor(unreachableEndpoint)
		cfg.DryRun = true
		clock := newFakeClock()
		p := newWakeProcessor(cfg, processortest.NewNopSettings(metadata.Type), clock.Now)
		defer func() { require.NoError(t, p.shutdown(context.Background())) }()

		for _, advance := range []time.Duration{time.Second, cfg.BindingExpiry + time.Second, 0} {
			in, _ := build()
			want, _ := build()
			out, err := p.processMetrics(context.Background(), in)
			require.NoError(t, err)
			requireOwnBindingsCounted(t, want, out)
			requirePassedThrough(t, want, out)
			clock.Advance(advance)
		}
	})
}

// requirePassedThrough checks that out is want plus, in each resource, at
// most one trailing scope of wake counters.
func requirePassedThrough(t *testing.T, want, out pmetric.Metrics) {
	t.Helper()
	require.Equal(t, want.ResourceMetrics().Len(), out.ResourceMetrics().Len())
	for r := 0; r < out.ResourceMetrics().Len(); r++ {
		wantScopes := want.ResourceMetrics().At(r).ScopeMetrics().Len()
		scopes := out.ResourceMetrics().At(r).ScopeMetrics()
		switch scopes.Len() {
		case wantScopes:
		case wantScopes + 1:
			added := scopes.At(wantScopes)
			require.Equal(t, metadata.ScopeName, added.Scope().Name())
			require.Equal(t, 2, added.Metrics().Len())
			seen := 0
			scopes.RemoveIf(func(pmetric.ScopeMetrics) bool { seen++; return seen > wantScopes })
		default:
			require.Failf(t, "unexpected scopes", "resource %d has %d scopes, want %d or one more", r, scopes.Len(), wantScopes)
		}
	}
	marshaler := &pmetric.ProtoMarshaler{}
	wantBytes, err := marshaler.MarshalMetrics(want)
	require.NoError(t, err)
	outBytes, err := marshaler.MarshalMetrics(out)
	require.NoError(t, err)
	require.True(t, bytes.Equal(wantBytes, outBytes), "input changed")
}

// requireOwnBindingsCounted checks that every wake counter in a resource of
// out names a (topic, group, function) that some point of the same resource
// of in carried: counters never move to another resource.
func requireOwnBindingsCounted(t *testing.T, in, out pmetric.Metrics) {
	t.Helper()
	for r := 0; r < out.ResourceMetrics().Len(); r++ {
		carried := make(map[[3]string]bool)
		for _, sm := range in.ResourceMetrics().At(r).ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				for _, dp := range numberPoints(m).All() {
					carried[triple(dp.Attributes())] = true
				}
			}
		}
		scopes := out.ResourceMetrics().At(r).ScopeMetrics()
		for s := in.ResourceMetrics().At(r).ScopeMetrics().Len(); s < scopes.Len(); s++ {
			for _, m := range scopes.At(s).Metrics().All() {
				for _, dp := range numberPoints(m).All() {
					require.True(t, carried[triple(dp.Attributes())], "resource %d counts a binding it did not carry: %v", r, dp.Attributes().AsRaw())
				}
			}
		}
	}
}

func numberPoints(m pmetric.Metric) pmetric.NumberDataPointSlice {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		return m.Gauge().DataPoints()
	case pmetric.MetricTypeSum:
		return m.Sum().DataPoints()
	}
	return pmetric.NewNumberDataPointSlice()
}

func triple(attrs pcommon.Map) [3]string {
	var out [3]string
	for i, key := range []string{topicKey, groupKey, functionKey} {
		if v, ok := attrs.Get(key); ok {
			out[i] = v.AsString()
		}
	}
	return out
}

// choices reads fuzz bytes as a stream of choices; past the end every
// choice is 0.
type choices []byte

func (c *choices) byte() byte {
	if len(*c) == 0 {
		return 0
	}
	b := (*c)[0]
	*c = (*c)[1:]
	return b
}

func (c *choices) pick(n int) int { return int(c.byte()) % n }

func (c *choices) uint64() uint64 {
	var buf [8]byte
	for i := range buf {
		buf[i] = c.byte()
	}
	return binary.BigEndian.Uint64(buf[:])
}

// generateMetrics builds metrics from fuzz choices, close enough to the
// receiver's output to reach the processor's decisions.
func generateMetrics(data []byte) pmetric.Metrics {
	c := choices(data)
	md := pmetric.NewMetrics()
	names := []string{
		schema.MetricsInfo.SlimfaaskafkaPendingMessages.Name,
		schema.MetricsInfo.SlimfaaskafkaConsumedMessages.Name,
		schema.MetricsInfo.SlimfaaskafkaWakeups.Name,
		"other",
	}
	for range c.pick(3) + 1 {
		rm := md.ResourceMetrics().AppendEmpty()
		generateResource(&c, rm.Resource().Attributes())
		for range c.pick(3) {
			sm := rm.ScopeMetrics().AppendEmpty()
			if c.pick(4) == 0 {
				sm.Scope().SetName(metadata.ScopeName)
			}
			for range c.pick(4) {
				m := sm.Metrics().AppendEmpty()
				m.SetName(names[c.pick(len(names))])
				var points pmetric.NumberDataPointSlice
				switch c.pick(4) {
				case 0:
					points = m.SetEmptyGauge().DataPoints()
				case 1:
					sum := m.SetEmptySum()
					sum.SetAggregationTemporality(pmetric.AggregationTemporality(c.pick(3)))
					sum.SetIsMonotonic(c.pick(2) == 0)
					points = sum.DataPoints()
				case 2:
					m.SetEmptyHistogram().DataPoints().AppendEmpty().SetCount(uint64(c.byte()))
					continue
				default:
					continue // a metric without data
				}
				for range c.pick(5) {
					generatePoint(&c, points.AppendEmpty())
				}
			}
		}
	}
	return md
}

// generateResource picks attributes among few, so that resources often
// share them, sometimes in another order.
func generateResource(c *choices, attrs pcommon.Map) {
	switch c.pick(5) {
	case 0: // none
	case 1:
		attrs.PutStr("kafka.cluster.alias", "eu")
	case 2:
		attrs.PutStr("kafka.cluster.alias", "us")
	case 3:
		attrs.PutStr("kafka.cluster.alias", "eu")
		attrs.PutStr("host.name", "a")
	default:
		attrs.PutStr("host.name", "a")
		attrs.PutStr("kafka.cluster.alias", "eu")
	}
}

func generatePoint(c *choices, dp pmetric.NumberDataPoint) {
	for _, key := range []string{topicKey, groupKey, functionKey} {
		switch c.pick(5) {
		case 0: // absent
		case 1:
			dp.Attributes().PutStr(key, "")
		case 2:
			dp.Attributes().PutInt(key, int64(c.byte()))
		default:
			dp.Attributes().PutStr(key, string(rune('a'+c.pick(2))))
		}
	}
	switch c.pick(4) {
	case 0:
		dp.SetIntValue(int64(c.uint64()))
	case 1:
		dp.SetIntValue(int64(c.byte()))
	case 2:
		dp.SetDoubleValue(math.Float64frombits(c.uint64()))
	default: // no value
	}
	dp.SetTimestamp(pcommon.Timestamp(c.byte()))
	if c.pick(5) == 0 {
		dp.SetFlags(pmetric.DefaultDataPointFlags.WithNoRecordedValue(true))
	}
}
