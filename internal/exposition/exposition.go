// Package exposition reads the Prometheus text format that the collector's
// prometheus exporter serves, for the programs that look at a running
// collector from outside: the end-to-end tests, the benchmark harness and the
// devstack demo. Parsing is the Prometheus project's own (expfmt).
package exposition // import "github.com/kafkawake/kafkawake/internal/exposition"

import (
	"context"
	"fmt"
	"io"
	"net/http"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Sample is one series' value at the time of the scrape.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// Samples is one exposition.
type Samples []Sample

// Scrape fetches url with client and parses the answer. It fails while the
// endpoint is not up yet, on a status other than 200 and on text that is not
// the Prometheus format.
func Scrape(ctx context.Context, client *http.Client, url string) (Samples, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %s", url, resp.Status)
	}
	samples, err := Parse(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	return samples, nil
}

// Parse reads the text format. Counters, gauges and untyped series give one
// sample each; summaries and histograms give their _sum and _count.
func Parse(r io.Reader) (Samples, error) {
	// The zero TextParser has no name validation scheme and rejects every
	// name; UTF-8 validation also accepts the exporter's classic names.
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parse the Prometheus text format: %w", err)
	}
	var samples Samples
	for name, family := range families {
		for _, m := range family.GetMetric() {
			labels := make(map[string]string, len(m.GetLabel()))
			for _, pair := range m.GetLabel() {
				labels[pair.GetName()] = pair.GetValue()
			}
			add := func(name string, value float64) {
				samples = append(samples, Sample{Name: name, Labels: labels, Value: value})
			}
			switch family.GetType() {
			case dto.MetricType_COUNTER:
				add(name, m.GetCounter().GetValue())
			case dto.MetricType_GAUGE:
				add(name, m.GetGauge().GetValue())
			case dto.MetricType_SUMMARY:
				add(name+"_sum", m.GetSummary().GetSampleSum())
				add(name+"_count", float64(m.GetSummary().GetSampleCount()))
			case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
				add(name+"_sum", m.GetHistogram().GetSampleSum())
				add(name+"_count", float64(m.GetHistogram().GetSampleCount()))
			default:
				add(name, m.GetUntyped().GetValue())
			}
		}
	}
	return samples, nil
}

// Find returns the value of the first sample named name whose labels include
// want.
func (s Samples) Find(name string, want map[string]string) (float64, bool) {
	for _, sample := range s {
		if sample.matches(name, want) {
			return sample.Value, true
		}
	}
	return 0, false
}

// Sum adds the values of every sample named name whose labels include want,
// and says whether there was any.
func (s Samples) Sum(name string, want map[string]string) (float64, bool) {
	var sum float64
	found := false
	for _, sample := range s {
		if sample.matches(name, want) {
			sum += sample.Value
			found = true
		}
	}
	return sum, found
}

func (s Sample) matches(name string, want map[string]string) bool {
	if s.Name != name {
		return false
	}
	for k, v := range want {
		if s.Labels[k] != v {
			return false
		}
	}
	return true
}
