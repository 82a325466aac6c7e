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
	stack := func(functions ...string) []*pprof.Location {
		var locs []*pprof.Location
		for _, f := range functions {
			locs = append(locs, &pprof.Location{Line: []pprof.Line{{Function: &pprof.Function{Name: f}}}})
		}
		return locs
	}
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
	h, err := attribute(prof)
	assert.NoError(t, err)
	assert.Equal(t, int64(130), h.total)
	assert.Equal(t, map[string]int64{"receiver state": 100, "pdata in flight": 20, "Prometheus exporter": 7, "collector and runtime": 3}, h.byPart)
}
