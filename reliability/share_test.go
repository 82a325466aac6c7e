package reliability

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkawake/kafkawake/internal/kafkatest"
	"github.com/kafkawake/kafkawake/internal/slimfaastest"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver"
)

// TestIdleShareGroupIsWokenByNewMessages: a queue whose workers drained it
// and left (the share group is Empty) gets new messages; the function is
// woken once, and the drained records never woke it.
func TestIdleShareGroupIsWokenByNewMessages(t *testing.T) {
	k := kafkatest.New(t, kfake.SeedTopics(1, "jobs"))
	k.SetShareReset("queue", "earliest")
	k.Produce("jobs", 0, 3)
	worker := k.JoinShareGroup("queue", "jobs", 10)
	worker.Ack(kgo.AckAccept, worker.Acquire(3)...)
	worker.Leave()

	sf := slimfaastest.New(t)
	p := startPipeline(t, receiverConfig(k.Kfake.ListenAddrs(),
		kafkawakereceiver.BindingConfig{Topic: "jobs", ShareGroup: "queue", Function: "worker"}), processorConfig(sf.URL))
	p.waitBatches(t, 3)
	assert.Equal(t, 0, sf.CallsFor("worker"), "a drained queue is not woken")

	k.Produce("jobs", 0, 2)
	require.Eventually(t, func() bool { return sf.Wakes()["worker"] == 1 }, 10*time.Second, 10*time.Millisecond)
	// The wake call starts while its batch is still on its way to the
	// test's sink: wait for the batch rather than read the one before it.
	require.Eventually(t, func() bool {
		values := p.pendingValues("worker")
		return len(values) > 0 && values[len(values)-1] == 2
	}, 10*time.Second, 10*time.Millisecond, "the new messages are pending")
	p.waitBatches(t, p.batches()+3)
	assert.Equal(t, 1, sf.Wakes()["worker"], "one wake per cooldown")
}
