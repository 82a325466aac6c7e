package reliability

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kafkawake/kafkawake/internal/kafkatest"
	"github.com/kafkawake/kafkawake/internal/slimfaastest"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver"
)

// TestRestart stops the pipeline and starts a new one, as a collector
// restart does, on bindings that consumed everything and on bindings with
// messages waiting, every run within the cooldown (an hour) of the first
// wake: a restart forgets the cooldowns, so each pending function is woken
// once more per restart, never more (docs/rules.md, "Restarts").
func TestRestart(t *testing.T) {
	const bindingsPerKind = 3
	k := kafkatest.New(t, kfake.SeedTopics(2, "orders"))
	k.Produce("orders", 0, 10)
	k.Produce("orders", 1, 10)
	var bindings []kafkawakereceiver.BindingConfig
	for i := range bindingsPerKind {
		done := fmt.Sprintf("done-%d", i)
		k.Commit(done, "orders", 0, 10)
		k.Commit(done, "orders", 1, 10)
		bindings = append(bindings,
			kafkawakereceiver.BindingConfig{Topic: "orders", ConsumerGroup: done, Function: done},
			kafkawakereceiver.BindingConfig{Topic: "orders", ConsumerGroup: fmt.Sprintf("waiting-%d", i), Function: fmt.Sprintf("waiting-%d", i)},
		)
	}
	sf := slimfaastest.New(t)

	for run := 1; run <= 3; run++ {
		p := startPipeline(t, receiverConfig(k.Kfake.ListenAddrs(), bindings...), processorConfig(sf.URL))
		p.waitBatches(t, 6)
		p.stop()

		for i := range bindingsPerKind {
			assert.Equal(t, 0, sf.CallsFor(fmt.Sprintf("done-%d", i)),
				"run %d: a fully consumed binding is never woken, even right after a start", run)
			assert.Equal(t, run, sf.Wakes()[fmt.Sprintf("waiting-%d", i)],
				"run %d: one wake per pending binding per start", run)
		}
		for _, e := range p.logs.FilterMessage("Wake decision").All() {
			if fn, _ := e.ContextMap()["function"].(string); len(fn) > 4 && fn[:4] == "done" {
				require.NotEqual(t, "activity", e.ContextMap()["reason"], "a restart is not activity")
			}
		}
	}
}
