// Package collectortest runs the built otelcol-kafkawake beside the
// end-to-end tests and the benchmark harness, and reads what its Prometheus
// exporter serves.
package collectortest // import "github.com/kafkawake/kafkawake/internal/collectortest"

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/kafkawake/kafkawake/internal/childprocess"
	"github.com/kafkawake/kafkawake/internal/exposition"
)

// Collector is one running collector.
type Collector struct {
	*childprocess.Process
	metricsURL string
}

// Start writes config to a file in dir and starts binary on it, with env
// added to its environment. metricsPort is the port of the prometheus
// exporter that config declares on 127.0.0.1.
func Start(binary, dir, config string, metricsPort int, env ...string) (*Collector, error) {
	path := filepath.Join(dir, fmt.Sprintf("config-%d.yaml", metricsPort))
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		return nil, fmt.Errorf("write the collector config: %w", err)
	}
	proc, err := childprocess.Start(binary, []string{"--config", path}, env...)
	if err != nil {
		return nil, err
	}
	return &Collector{Process: proc, metricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)}, nil
}

// MetricsURL is the URL of the collector's Prometheus exporter.
func (c *Collector) MetricsURL() string { return c.metricsURL }

// Scrape reads the exporter once; it fails while the exporter is not up.
func (c *Collector) Scrape(ctx context.Context) (exposition.Samples, error) {
	return exposition.Scrape(ctx, http.DefaultClient, c.metricsURL)
}

// ScrapeText reads the exporter once and returns the exposition as text, for
// checks of how a value is written.
func (c *Collector) ScrapeText(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.metricsURL, http.NoBody)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", c.metricsURL, resp.Status)
	}
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

// WaitExposing waits until the exporter serves a series named metric, that
// is until a scrape went through the pipeline.
func (c *Collector) WaitExposing(ctx context.Context, metric string, timeout time.Duration) error {
	return c.WaitUntil(ctx, timeout, "expose "+metric, func() bool {
		samples, err := c.Scrape(ctx)
		if err != nil {
			return false
		}
		_, ok := samples.Find(metric, nil)
		return ok
	})
}

// WaitUntil checks done every 100 ms until it holds, the collector exits
// or timeout passes; what says what was waited for in the error.
func (c *Collector) WaitUntil(ctx context.Context, timeout time.Duration, what string, done func() bool) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-c.Exited():
			return fmt.Errorf("collector exited:\n%s", c.Output())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if done() {
			return nil
		}
	}
	return fmt.Errorf("collector did not %s within %s:\n%s", what, timeout, c.Output())
}
