//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// collector is one running otelcol-kafkawake process.
type collector struct {
	cmd        *exec.Cmd
	output     *syncBuffer
	metricsURL string
	exited     chan struct{}
}

// startCollector writes config to a file, starts the binary on it and stops
// it when the test ends. metricsPort is the Prometheus exporter's port used
// in config.
func startCollector(t *testing.T, config string, metricsPort int) *collector {
	t.Helper()
	binary := os.Getenv("KAFKAWAKE_COLLECTOR")
	if binary == "" {
		t.Fatal("KAFKAWAKE_COLLECTOR is not set: run these tests with `make test-e2e`, which builds the collector")
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(path, []byte(config), 0o600))

	c := &collector{
		cmd:        exec.Command(binary, "--config", path),
		output:     &syncBuffer{},
		metricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort),
		exited:     make(chan struct{}),
	}
	c.cmd.Stdout = c.output
	c.cmd.Stderr = c.output
	require.NoError(t, c.cmd.Start())
	go func() {
		_ = c.cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		c.stop(t)
		if t.Failed() {
			t.Logf("collector output:\n%s", c.output.String())
		}
	})
	return c
}

// stop sends SIGTERM and expects a clean exit within a bounded time.
func (c *collector) stop(t *testing.T) {
	select {
	case <-c.exited:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(15 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
		t.Error("collector did not stop within 15s of SIGTERM")
	}
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
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// syncBuffer collects process output written from another goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
