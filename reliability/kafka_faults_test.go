package reliability

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkawake/kafkawake/internal/kafkatest"
	"github.com/kafkawake/kafkawake/internal/slimfaastest"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver"
)

// A fault starts when inject returns and ends when the returned func runs.
type kafkaFault struct {
	name   string
	inject func(*kafkatest.Cluster) (recover func())
}

var kafkaFaults = []kafkaFault{
	{"broker gone and back", func(k *kafkatest.Cluster) func() {
		var down atomic.Bool
		down.Store(true)
		k.Kfake.Control(func(kmsg.Request) (kmsg.Response, error, bool) {
			k.Kfake.KeepControl()
			if down.Load() {
				return nil, errors.New("broker down"), true // closes the connection
			}
			return nil, nil, false
		})
		return func() { down.Store(false) }
	}},
	{"coordinator loading", func(k *kafkatest.Cluster) func() {
		h := k.Kfake.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetFetch}, Err: kerr.CoordinatorLoadInProgress, Count: -1})
		return h.Remove
	}},
	{"coordinator not available", func(k *kafkatest.Cluster) func() {
		h := k.Kfake.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetFetch, kmsg.FindCoordinator}, Err: kerr.CoordinatorNotAvailable, Count: -1})
		return h.Remove
	}},
	{"leaders and coordinators moving", func(k *kafkatest.Cluster) func() {
		stop, stopped := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(stopped)
			for {
				k.Kfake.ShufflePartitionLeaders()
				k.Kfake.RehashCoordinators()
				select {
				case <-stop:
					return
				case <-time.After(interval / 3):
				}
			}
		}()
		return func() { close(stop); <-stopped }
	}},
	{"request hanging past the timeout", func(k *kafkatest.Cluster) func() {
		var hanging atomic.Bool
		hanging.Store(true)
		release := make(chan struct{})
		k.Kfake.ControlKey(int16(kmsg.ListOffsets), func(kmsg.Request) (kmsg.Response, error, bool) {
			k.Kfake.KeepControl()
			if hanging.Load() {
				k.Kfake.SleepControl(func() { <-release })
			}
			return nil, nil, false
		})
		return func() { hanging.Store(false); close(release) }
	}},
}

func TestKafkaFaults(t *testing.T) {
	for _, fault := range kafkaFaults {
		t.Run(fault.name, func(t *testing.T) {
			k := kafkatest.New(t, kfake.SeedTopics(3, "orders"))
			k.Produce("orders", 0, 5)
			sf := slimfaastest.New(t)
			p := startPipeline(t,
				receiverConfig(k.Kfake.ListenAddrs(), kafkawakereceiver.BindingConfig{Topic: "orders", ConsumerGroup: "g", Function: "f"}),
				processorConfig(sf.URL))
			require.Eventually(t, func() bool { return sf.Wakes()["f"] == 1 && len(p.pendingValues("f")) > 0 },
				30*time.Second, 10*time.Millisecond, "no first wake")

			recover := fault.inject(k)
			p.waitBatches(t, 4)
			recovered := len(p.pendingValues("f"))
			batchesAtRecovery := p.batches()
			recover()
			require.Eventually(t, func() bool { return len(p.pendingValues("f")) > recovered },
				30*time.Second, 10*time.Millisecond, "pending never came back")
			// The batch in flight at recovery, then at most two intervals.
			assert.LessOrEqual(t, p.batches()-batchesAtRecovery, 3, "values took more than two intervals to come back")

			for i, v := range p.pendingValues("f") {
				assert.Equal(t, int64(5), v, "pending point %d: an error must never be reported as another value", i)
			}
			assert.Equal(t, 1, sf.CallsFor("f"), "no wake storm: the binding stays in its cooldown")
			assert.Equal(t, int64(1), p.counter("slimfaaskafka.wakeups", "f"))
		})
	}
}

func TestKafkaFaultsAreVisibleInLogs(t *testing.T) {
	k := kafkatest.New(t, kfake.SeedTopics(1, "orders"))
	k.Produce("orders", 0, 5)
	sf := slimfaastest.New(t)
	p := startPipeline(t,
		receiverConfig(k.Kfake.ListenAddrs(), kafkawakereceiver.BindingConfig{Topic: "orders", ConsumerGroup: "g", Function: "f"}),
		processorConfig(sf.URL))
	p.waitBatches(t, 1)
	h := k.Kfake.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetFetch}, Err: kerr.UnknownServerError, Count: -1})
	p.waitBatches(t, 4)
	h.Remove()
	p.waitBatches(t, 3)

	warnings := p.logs.FilterMessageSnippet("Cannot read the binding's offsets").All()
	require.Len(t, warnings, 1, "the cause is logged once, not every scrape")
	assert.Equal(t, "f", warnings[0].ContextMap()["function"])
	assert.Contains(t, warnings[0].ContextMap()["error"], "UNKNOWN_SERVER_ERROR")
	scrapeErrors := p.logs.FilterMessage("Error scraping metrics").All()
	require.NotEmpty(t, scrapeErrors, "the scrape's error reaches the collector")
	assert.Contains(t, scrapeErrors[0].ContextMap()["error"], `binding topic "orders", consumer_group "g", function "f"`)
	assert.Equal(t, 1, p.logs.FilterMessageSnippet("readable again").Len(), "recovery is logged")
}
