//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkawake/kafkawake/internal/childprocess"
	"github.com/kafkawake/kafkawake/internal/slimfaastest"
)

// prometheusServer is a real Prometheus (Debian package) scraping one
// target every second.
type prometheusServer struct {
	apiURL string
}

func startPrometheus(t *testing.T, target string) *prometheusServer {
	t.Helper()
	binary, err := exec.LookPath("prometheus")
	require.NoError(t, err, "the Prometheus server is required: run `make deps` (Debian package prometheus)")
	dir := t.TempDir()
	config := fmt.Sprintf(`
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
scrape_configs:
  - job_name: kafkawake
    static_configs:
      - targets: [%q]
`, target)
	configPath := filepath.Join(dir, "prometheus.yml")
	require.NoError(t, os.WriteFile(configPath, []byte(config), 0o600))

	port := freePort(t)
	proc, err := childprocess.Start(binary, []string{
		"--config.file=" + configPath,
		"--storage.tsdb.path=" + filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port),
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		proc.Kill()
		if t.Failed() {
			t.Logf("prometheus output:\n%s", proc.Output())
		}
	})

	p := &prometheusServer{apiURL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	require.Eventually(t, func() bool {
		resp, err := http.Get(p.apiURL + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, time.Minute, 100*time.Millisecond, "prometheus did not become ready")
	return p
}

// query runs an instant PromQL query and returns the single value of its
// vector result; ok is false when the result is empty.
func (p *prometheusServer) query(ctx context.Context, promql string) (value float64, ok bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.apiURL+"/api/v1/query?query="+url.QueryEscape(promql), http.NoBody)
	if err != nil {
		return 0, false, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, false, err
	}
	if body.Status != "success" {
		return 0, false, fmt.Errorf("query %q: %s", promql, body.Error)
	}
	switch len(body.Data.Result) {
	case 0:
		return 0, false, nil
	case 1:
		text, _ := body.Data.Result[0].Value[1].(string)
		value, err := strconv.ParseFloat(text, 64)
		return value, err == nil, err
	default:
		return 0, false, fmt.Errorf("query %q: %d series, want one", promql, len(body.Data.Result))
	}
}

func TestPrometheusSeesPendingAndWakeRate(t *testing.T) {
	cluster := newOrdersCluster(t, 3, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	slimFaas := slimfaastest.New(t)
	wakeURL, calls := slimFaas.URL, slimFaas.Received()
	metricsPort := freePort(t)
	col := startCollector(t, collectorConfig(cluster.ListenAddrs(), wakeURL, metricsPort, `
      - topic: orders
        consumer_group: order-processors
        function: f`), metricsPort)
	prom := startPrometheus(t, fmt.Sprintf("127.0.0.1:%d", metricsPort))

	// Prometheus first sees the counter at 0, so that rate() sees the wake.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		n, ok, err := prom.query(ctx, `count_over_time(slimfaaskafka_wakeups_total{function="f",reason="pending"}[1m])`)
		assert.NoError(c, err)
		assert.True(c, ok)
		assert.GreaterOrEqual(c, n, 3.0)
	}, time.Minute, 250*time.Millisecond)

	producer, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.DisableClientMetrics(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	defer producer.Close()
	for i := range 7 {
		rec := &kgo.Record{Topic: "orders", Partition: int32(i % 3), Value: []byte("order")}
		require.NoError(t, producer.ProduceSync(ctx, rec).FirstErr())
	}
	select {
	case <-calls:
	case <-col.Exited():
		t.Fatal("collector exited")
	case <-ctx.Done():
		t.Fatal("no wake call arrived")
	}

	require.EventuallyWithT(t, func(c *assert.CollectT) {
		pending, ok, err := prom.query(ctx, `max_over_time(slimfaaskafka_pending_messages{function="f"}[30s])`)
		assert.NoError(c, err)
		assert.True(c, ok, "no pending series")
		assert.Equal(c, 7.0, pending)

		// One wake in the last minute: about 1/60 per second; Prometheus
		// extrapolates a little at the edges of the samples it has.
		rate, ok, err := prom.query(ctx, `sum(rate(slimfaaskafka_wakeups_total{function="f"}[1m]))`)
		assert.NoError(c, err)
		assert.True(c, ok, "no wake rate")
		assert.GreaterOrEqual(c, rate, 1.0/60)
		assert.LessOrEqual(c, rate, 1.5/60)

		// Nobody consumes: the backlog never drains. The exporter writes
		// +Inf, and Prometheus reads it back as +Inf.
		drain, ok, err := prom.query(ctx, `slimfaaskafka_drain_time_seconds{function="f"}`)
		assert.NoError(c, err)
		assert.True(c, ok, "no drain time series")
		assert.True(c, math.IsInf(drain, 1), "drain time %v, want +Inf", drain)
	}, time.Minute, 250*time.Millisecond)

	body, err := col.ScrapeText(ctx)
	require.NoError(t, err)
	assert.Regexp(t, `(?m)^slimfaaskafka_drain_time_seconds\{[^}]*function="f"[^}]*\} \+Inf$`, body)
}
