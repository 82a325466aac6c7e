package slimfaaswakeprocessor

import (
	"hash/maphash"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	schema "github.com/kafkawake/kafkawake/internal/metadata"
)

// Two sources (two clusters, two agents) reporting the same triple with
// their own cumulative consumed counts are two bindings: the counts never
// mix, so alternating values are no consumption, and each resource carries
// its own counters.
func TestSameTripleOnTwoResourcesKeepsApart(t *testing.T) {
	cfg := dryRunConfig()
	cfg.Defaults.Cooldown = 0
	tp := newTestProcessor(t, cfg)
	a := bindingID{"orders", "orders-group", "shop"}
	for range 6 {
		out := tp.process(t, batch(
			[]point{consumedPoint(a.topic, a.group, a.function, 1000)},
			[]point{consumedPoint(a.topic, a.group, a.function, 50)},
		))
		assert.Equal(t, zeroCounters(a), counters(t, out, 0))
		assert.Equal(t, zeroCounters(a), counters(t, out, 1))
		tp.clock.Advance(2 * time.Second)
	}
	for _, d := range decisions(tp.logs) {
		assert.Equal(t, idle, d, "the counts of each source stay flat")
	}

	// Only the source that consumes wakes, and counts it on its resource.
	out := tp.process(t, batch(
		[]point{consumedPoint(a.topic, a.group, a.function, 1000)},
		[]point{consumedPoint(a.topic, a.group, a.function, 60)},
	))
	assert.Equal(t, zeroCounters(a), counters(t, out, 0))
	assert.Equal(t, withCounts(zeroCounters(a), map[counterID]int64{
		wakeups(a.topic, a.group, a.function, schema.AttributeReasonActivity): 1,
	}), counters(t, out, 1))
}

func TestResourceIdentity(t *testing.T) {
	seed := maphash.MakeSeed()
	id := func(build func(pcommon.Map)) resourceID {
		attrs := pcommon.NewMap()
		build(attrs)
		return resourceIdentity(seed, attrs)
	}
	base := id(func(m pcommon.Map) { m.PutStr("kafka.cluster.alias", "eu"); m.PutInt("n", 1) })
	assert.Equal(t, base, id(func(m pcommon.Map) { m.PutInt("n", 1); m.PutStr("kafka.cluster.alias", "eu") }), "order does not matter")
	for name, build := range map[string]func(pcommon.Map){
		"other value":      func(m pcommon.Map) { m.PutStr("kafka.cluster.alias", "us"); m.PutInt("n", 1) },
		"other value type": func(m pcommon.Map) { m.PutStr("kafka.cluster.alias", "eu"); m.PutStr("n", "1") },
		"one more":         func(m pcommon.Map) { m.PutStr("kafka.cluster.alias", "eu"); m.PutInt("n", 1); m.PutBool("b", false) },
		"one less":         func(m pcommon.Map) { m.PutStr("kafka.cluster.alias", "eu") },
		"key and value run together": func(m pcommon.Map) {
			m.PutStr("kafka.cluster.aliase", "u")
			m.PutInt("n", 1)
		},
		"nested": func(m pcommon.Map) {
			m.PutEmptyMap("kafka.cluster.alias").PutStr("eu", "")
			m.PutInt("n", 1)
		},
	} {
		assert.NotEqual(t, base, id(build), name)
	}
	slice := func(items ...string) func(pcommon.Map) {
		return func(m pcommon.Map) {
			s := m.PutEmptySlice("s")
			for _, item := range items {
				s.AppendEmpty().SetStr(item)
			}
		}
	}
	assert.NotEqual(t, id(slice("ab")), id(slice("a", "b")))
	assert.NotEqual(t, id(slice("a", "b")), id(slice("b", "a")), "a slice is ordered")
	assert.Equal(t, id(slice("a", "b")), id(slice("a", "b")))
}

func TestInputPointSelection(t *testing.T) {
	key := bindingID{"t", "g", "f"}
	pendingWakes := wakeups("t", "g", "f", schema.AttributeReasonPending)

	t.Run("double pending value", func(t *testing.T) {
		tp := newTestProcessor(t, dryRunConfig())
		md := batch([]point{pendingPoint("t", "g", "f", 0)})
		md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Gauge().DataPoints().At(0).SetDoubleValue(2.0)
		assert.Equal(t, int64(1), counters(t, tp.process(t, md), 0)[pendingWakes])
	})

	t.Run("most recent duplicate wins", func(t *testing.T) {
		tp := newTestProcessor(t, dryRunConfig())
		md := batch([]point{pendingPoint("t", "g", "f", 0), pendingPoint("t", "g", "f", 9), pendingPoint("t", "g", "f", 0)})
		dps := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Gauge().DataPoints()
		// The point saying 9 is the newest, though not the last.
		dps.At(1).SetTimestamp(dps.At(0).Timestamp() + 1)
		got := counters(t, tp.process(t, md), 0)
		assert.Equal(t, withCounts(zeroCounters(key), map[counterID]int64{pendingWakes: 1}), got)
	})

	t.Run("duplicate consumed points make one delta", func(t *testing.T) {
		tp := newTestProcessor(t, dryRunConfig())
		tp.process(t, batch([]point{consumedPoint("t", "g", "f", 10)}))
		tp.process(t, batch([]point{consumedPoint("t", "g", "f", 10), consumedPoint("t", "g", "f", 10)}))
		assert.Equal(t, []loggedDecision{idle, idle}, decisions(tp.logs))
	})
}

// TestInputWithoutBindingsPassesThroughUntouched feeds the inputs of
// testdata/passthrough, none of which holds a usable binding (other
// metrics, wrong types or temporality, missing or invalid attributes,
// points without a value): each comes out exactly as it went in.
func TestInputWithoutBindingsPassesThroughUntouched(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "passthrough", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			input, err := golden.ReadMetrics(file)
			require.NoError(t, err)
			want, err := golden.ReadMetrics(file)
			require.NoError(t, err)
			tp := newTestProcessor(t, configFor(unreachableEndpoint))

			out := tp.process(t, input)

			// Compared as JSON, where a NaN equals itself.
			marshaler := &pmetric.JSONMarshaler{}
			wantJSON, err := marshaler.MarshalMetrics(want)
			require.NoError(t, err)
			gotJSON, err := marshaler.MarshalMetrics(out)
			require.NoError(t, err)
			assert.JSONEq(t, string(wantJSON), string(gotJSON))
			assert.Empty(t, tp.bindings.byKey)
		})
	}
}
