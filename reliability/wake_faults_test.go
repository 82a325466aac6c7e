package reliability

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kafkawake/kafkawake/internal/kafkatest"
	"github.com/kafkawake/kafkawake/internal/slimfaastest"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver"
)

const wakeFunctions = 5

// wakeFault scripts SlimFaas's answers while the fault lasts; bound is how
// long after recovery each function must have had its one successful wake.
type wakeFault struct {
	name    string
	respond slimfaastest.Answer
	bound   time.Duration
}

// The processor retries with backoff up to 200ms (±50% jitter) after calls
// that time out at 300ms; one scrape interval may pass before the next
// decision.
const backoffBound = 300*time.Millisecond + 300*time.Millisecond + interval + 500*time.Millisecond

var wakeFaults = []wakeFault{
	{"refusing connections", func(w http.ResponseWriter, _ *http.Request, _ int) {
		// Hijack and close: the client sees the connection dropped.
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}, backoffBound},
	{"answering after the timeout", func(w http.ResponseWriter, r *http.Request, _ int) {
		<-r.Context().Done() // the client gives up first
		w.WriteHeader(http.StatusNoContent)
	}, backoffBound},
	{"429 storm with Retry-After", func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
	}, time.Second + backoffBound},
	{"500s", func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(http.StatusInternalServerError) }, backoffBound},
}

func TestWakeFaults(t *testing.T) {
	for _, fault := range wakeFaults {
		t.Run(fault.name, func(t *testing.T) {
			k := kafkatest.New(t, kfake.SeedTopics(1, "orders"))
			k.Produce("orders", 0, 3)
			var bindings []kafkawakereceiver.BindingConfig
			for i := range wakeFunctions {
				bindings = append(bindings, kafkawakereceiver.BindingConfig{
					Topic: "orders", ConsumerGroup: fmt.Sprintf("g%d", i), Function: fmt.Sprintf("f%d", i),
				})
			}
			sf := slimfaastest.New(t)
			sf.Script(fault.respond)

			p := startPipeline(t, receiverConfig(k.Kfake.ListenAddrs(), bindings...), processorConfig(sf.URL))
			// Every function is being woken and failing; the pipeline keeps
			// delivering batches meanwhile.
			require.Eventually(t, func() bool {
				for i := range wakeFunctions {
					if p.counter("slimfaaskafka.wake_failures", fmt.Sprintf("f%d", i)) < 2 {
						return false
					}
				}
				return true
			}, 30*time.Second, 10*time.Millisecond, "failures are not counted")
			p.waitBatches(t, 4)

			recoveredAt := time.Now()
			sf.Script(nil)

			require.Eventually(t, func() bool {
				for i := range wakeFunctions {
					if sf.Wakes()[fmt.Sprintf("f%d", i)] == 0 {
						return false
					}
				}
				return true
			}, 30*time.Second, 10*time.Millisecond, "not every function was woken after recovery")

			p.waitBatches(t, 4)
			for i := range wakeFunctions {
				function := fmt.Sprintf("f%d", i)
				assert.Equal(t, 1, sf.Wakes()[function], "%s: exactly one successful wake", function)
				took := sf.FirstWake(function).Sub(recoveredAt)
				assert.LessOrEqual(t, took, fault.bound, "%s: woken %s after recovery", function, took)
				assert.Equal(t, int64(1), p.counter("slimfaaskafka.wakeups", function))
				assert.GreaterOrEqual(t, p.counter("slimfaaskafka.wake_failures", function), int64(2))
			}
		})
	}
}

// TestPipelineNeverWaitsOnSlimFaas hangs every wake call and checks that
// batches, with fresh pending values, keep flowing.
func TestPipelineNeverWaitsOnSlimFaas(t *testing.T) {
	k := kafkatest.New(t, kfake.SeedTopics(1, "orders"))
	k.Produce("orders", 0, 3)
	sf := slimfaastest.New(t)
	release := make(chan struct{})
	sf.Script(func(w http.ResponseWriter, r *http.Request, _ int) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	pcfg := processorConfig(sf.URL)
	pcfg.ClientConfig.Timeout = time.Hour // the call itself never gives up
	p := startPipeline(t, receiverConfig(k.Kfake.ListenAddrs(),
		kafkawakereceiver.BindingConfig{Topic: "orders", ConsumerGroup: "g", Function: "f"}), pcfg)
	require.Eventually(t, func() bool { return sf.CallsFor("f") == 1 }, 30*time.Second, 10*time.Millisecond)

	k.Produce("orders", 0, 4)
	require.Eventually(t, func() bool {
		values := p.pendingValues("f")
		return len(values) > 0 && values[len(values)-1] == 7
	}, 30*time.Second, 10*time.Millisecond, "pending stopped updating while the wake call hangs")
	assert.Equal(t, 1, sf.CallsFor("f"), "one wake in flight per function")
}
