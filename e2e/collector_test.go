//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kafkawake/kafkawake/internal/childprocess"
)

// collector is one running otelcol-kafkawake process.
type collector struct {
	*childprocess.Process
	metricsURL string
}

// startCollector writes config to a file, starts the binary on it and stops
// it when the test ends, expecting a clean exit. metricsPort is the
// Prometheus exporter's port used in config.
func startCollector(t *testing.T, config string, metricsPort int) *collector {
	t.Helper()
	binary := os.Getenv("KAFKAWAKE_COLLECTOR")
	if binary == "" {
		t.Fatal("KAFKAWAKE_COLLECTOR is not set: run these tests with `make test-e2e`, which builds the collector")
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(path, []byte(config), 0o600))

	proc, err := childprocess.Start(binary, []string{"--config", path})
	require.NoError(t, err)
	c := &collector{Process: proc, metricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)}
	t.Cleanup(func() {
		if err := c.Stop(15 * time.Second); err != nil && !errors.Is(err, childprocess.ErrAlreadyExited) {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("collector output:\n%s", c.Output())
		}
	})
	return c
}

// scrape returns the Prometheus exposition of the collector, or an error
// while the exporter is not up yet.
func (c *collector) scrape(ctx context.Context) ([]sample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.metricsURL, http.NoBody)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return parseExposition(string(body))
}

// sample is one line of the Prometheus text format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

var (
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$`)
	labelPair  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)
)

func parseExposition(text string) ([]sample, error) {
	var samples []sample
	for _, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("unparsable exposition line %q", line)
		}
		value, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			return nil, fmt.Errorf("bad value in line %q: %w", line, err)
		}
		labels := map[string]string{}
		for _, pair := range labelPair.FindAllStringSubmatch(m[2], -1) {
			labels[pair[1]] = pair[2]
		}
		samples = append(samples, sample{name: m[1], labels: labels, value: value})
	}
	return samples, nil
}

// find returns the value of the one sample with this name whose labels
// include want.
func find(samples []sample, name string, want map[string]string) (float64, bool) {
	for _, s := range samples {
		if s.name != name {
			continue
		}
		matches := true
		for k, v := range want {
			if s.labels[k] != v {
				matches = false
				break
			}
		}
		if matches {
			return s.value, true
		}
	}
	return 0, false
}

func freePort(t *testing.T) int {
	t.Helper()
	port, err := childprocess.FreePort()
	require.NoError(t, err)
	return port
}
