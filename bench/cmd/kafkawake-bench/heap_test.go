package main

import (
	"testing"

	pprof "github.com/google/pprof/profile"
	"github.com/stretchr/testify/assert"
)

func TestPackageOfASymbol(t *testing.T) {
	for symbol, want := range map[string]string{
		"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/offset.(*Table).Grow": "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/offset",
		"go.opentelemetry.io/collector/scraper/scraperhelper/internal/controller.(*Controller[go.shape.interface { ScrapeMetrics(context.Context) (go.opentelemetry.io/collector/pdata/pmetric.Metrics, error) }]).startScraping.func1": "go.opentelemetry.io/collector/scraper/scraperhelper/internal/controller",
		"runtime.mallocgc":        "runtime",
		"strings.(*Builder).Grow": "strings",
	} {
		assert.Equal(t, want, packageOf(symbol), symbol)
	}
}

func TestHeapSamplesGoToTheFirstComponentOnTheirStack(t *testing.T) {
	prof := &pprof.Profile{
		SampleType: []*pprof.ValueType{{Type: "inuse_objects"}, {Type: "inuse_space"}},
		Sample: []*pprof.Sample{
			// The receiver's own memory, under a generic controller whose
			// shape names pdata.
			{Value: []int64{1, 100}, Location: stack(
				"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/offset.(*Table).Grow",
				"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver.(*kafkaScraper).scrape",
				"go.opentelemetry.io/collector/scraper/scraperhelper/internal/controller.(*Controller[go.shape.interface { ScrapeMetrics(context.Context) (go.opentelemetry.io/collector/pdata/pmetric.Metrics, error) }]).startScraping.func1")},
			// A point the receiver writes is pdata in flight.
			{Value: []int64{1, 20}, Location: stack(
				"go.opentelemetry.io/collector/pdata/internal.NewNumberDataPoint",
				"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver.(*pointWriter).point")},
			// The exporter's copy of a point is the exporter's.
			{Value: []int64{1, 7}, Location: stack(
				"go.opentelemetry.io/collector/pdata/internal.CopyKeyValueSlice",
				"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/prometheusexporter.(*lastValueAccumulator).accumulateGauge")},
			{Value: []int64{1, 3}, Location: stack("runtime.malg")},
		},
	}
	h, err := attribute(prof, "inuse_space", heapParts)
	assert.NoError(t, err)
	assert.Equal(t, int64(130), h.total)
	assert.Equal(t, map[string]int64{"receiver state": 100, "pdata in flight": 20, "Prometheus exporter": 7, "collector and runtime": 3}, h.byPart)
}

func TestCPUSamplesGoToTheComponentDoingTheWork(t *testing.T) {
	prof := &pprof.Profile{
		SampleType: []*pprof.ValueType{{Type: "samples"}, {Type: "cpu"}},
		Sample: []*pprof.Sample{
			// Writing a point is the receiver's work, not pdata's.
			{Value: []int64{1, 50}, Location: stack(
				"go.opentelemetry.io/collector/pdata/pcommon.Map.PutStr",
				"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver.(*pointWriter).point")},
			// An allocation's assist stays with the allocating component.
			{Value: []int64{1, 20}, Location: stack(
				"runtime.gcAssistAlloc",
				"runtime.mallocgc",
				"github.com/kafkawake/kafkawake/processor/slimfaaswakeprocessor.(*wakeProcessor).appendCount")},
			// The runtime's own marking is garbage collection.
			{Value: []int64{1, 15}, Location: stack("runtime.scanobject", "runtime.gcDrain", "runtime.gcBgMarkWorker")},
			{Value: []int64{1, 10}, Location: stack(
				"github.com/twmb/franz-go/pkg/kmsg.(*ListOffsetsResponse).ReadFrom",
				"github.com/twmb/franz-go/pkg/kgo.(*brokerCxn).handleResp")},
			{Value: []int64{1, 5}, Location: stack("runtime.schedule", "runtime.park_m")},
		},
	}
	a, err := attribute(prof, "cpu", cpuParts)
	assert.NoError(t, err)
	assert.Equal(t, int64(100), a.total)
	assert.Equal(t, map[string]int64{
		"kafkawake receiver": 50, "slimfaaswake processor": 20, "garbage collection": 15,
		"Kafka client (franz-go)": 10, "collector and runtime": 5,
	}, a.byPart)
}

// stack is a sample's stack, innermost function first.
func stack(functions ...string) []*pprof.Location {
	var locs []*pprof.Location
	for _, f := range functions {
		locs = append(locs, &pprof.Location{Line: []pprof.Line{{Function: &pprof.Function{Name: f}}}})
	}
	return locs
}
