package exposition

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// exporterText is the shape of the collector's prometheus exporter output.
const exporterText = `# HELP slimfaaskafka_pending_messages Messages waiting.
# TYPE slimfaaskafka_pending_messages gauge
slimfaaskafka_pending_messages{function="orders",group="orders-group",topic="orders"} 12
slimfaaskafka_pending_messages{function="other",group="g",topic="t"} 99
# HELP slimfaaskafka_wakeups_total Wake calls SlimFaas accepted.
# TYPE slimfaaskafka_wakeups_total counter
slimfaaskafka_wakeups_total{function="orders",group="orders-group",reason="pending",topic="orders"} 1
slimfaaskafka_wakeups_total{function="orders",group="orders-group",reason="activity",topic="orders"} 2
# HELP rpc_duration_seconds A histogram.
# TYPE rpc_duration_seconds histogram
rpc_duration_seconds_bucket{le="1"} 3
rpc_duration_seconds_bucket{le="+Inf"} 4
rpc_duration_seconds_sum 2.5
rpc_duration_seconds_count 4
target_info{service_name="otelcol-kafkawake"} 1
`

func TestParse(t *testing.T) {
	samples, err := Parse(strings.NewReader(exporterText))
	require.NoError(t, err)

	v, ok := samples.Find("slimfaaskafka_pending_messages", map[string]string{"function": "orders"})
	assert.True(t, ok)
	assert.Equal(t, 12.0, v)

	v, ok = samples.Find("slimfaaskafka_wakeups_total", map[string]string{"function": "orders", "reason": "activity"})
	assert.True(t, ok)
	assert.Equal(t, 2.0, v)

	sum, ok := samples.Sum("slimfaaskafka_wakeups_total", map[string]string{"function": "orders"})
	assert.True(t, ok)
	assert.Equal(t, 3.0, sum)

	v, ok = samples.Find("rpc_duration_seconds_count", nil)
	assert.True(t, ok)
	assert.Equal(t, 4.0, v)

	v, ok = samples.Find("target_info", map[string]string{"service_name": "otelcol-kafkawake"})
	assert.True(t, ok, "untyped series")
	assert.Equal(t, 1.0, v)

	_, ok = samples.Find("slimfaaskafka_pending_messages", map[string]string{"function": "missing"})
	assert.False(t, ok)
	_, ok = samples.Sum("slimfaaskafka_consumed_messages_total", nil)
	assert.False(t, ok)
}

func TestParseRejectsWhatIsNotTheTextFormat(t *testing.T) {
	_, err := Parse(strings.NewReader("slimfaaskafka_pending_messages{function=\"orders\" 12\n"))
	assert.Error(t, err)
}

func TestScrape(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		_, _ = w.Write([]byte(exporterText))
	}))
	defer srv.Close()

	samples, err := Scrape(t.Context(), srv.Client(), srv.URL)
	require.NoError(t, err)
	_, ok := samples.Find("slimfaaskafka_pending_messages", map[string]string{"function": "other"})
	assert.True(t, ok)

	status = http.StatusServiceUnavailable
	_, err = Scrape(t.Context(), srv.Client(), srv.URL)
	assert.ErrorContains(t, err, "503")
}
