package reliability

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/kafkawake/kafkawake/internal/kafkatest"
	schema "github.com/kafkawake/kafkawake/internal/metadata"
	"github.com/kafkawake/kafkawake/internal/slimfaastest"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver"
)

const (
	replicaFunctions = 24
	replicaSession   = 6 * time.Second
	// replicaWait bounds every wait on the group: a takeover takes about a
	// session.
	replicaWait = 6 * replicaSession
)

// replicaSetup is a cluster whose 24 functions each read their own group
// of one topic, and a SlimFaas whose wake makes the function consume
// everything: pending drops to 0 once the function is woken.
type replicaSetup struct {
	k        *kafkatest.Cluster
	sf       *slimfaastest.Server
	bindings []kafkawakereceiver.BindingConfig
	produced atomic.Int64
}

func newReplicaSetup(t *testing.T) *replicaSetup {
	t.Helper()
	s := &replicaSetup{k: kafkatest.New(t, kfake.SeedTopics(1, "orders")), sf: slimfaastest.New(t)}
	for i := range replicaFunctions {
		s.bindings = append(s.bindings, kafkawakereceiver.BindingConfig{Topic: "orders", ConsumerGroup: fmt.Sprintf("g-%d", i), Function: fmt.Sprintf("f-%d", i)})
	}
	s.sf.OnEachCall(t, func(call slimfaastest.Call) {
		if group, ok := strings.CutPrefix(call.Function, "f-"); ok {
			s.k.Commit("g-"+group, "orders", 0, s.produced.Load())
		}
	})
	return s
}

// produce adds n messages for every function.
func (s *replicaSetup) produce(n int) {
	s.k.Produce("orders", 0, n)
	s.produced.Add(int64(n))
}

// start runs one replica: a pipeline in the coordination group, reporting
// every binding, with an hour of cooldown.
func (s *replicaSetup) start(t *testing.T, name string) *pipeline {
	t.Helper()
	return s.startReporting(t, name, kafkawakereceiver.ReportAll)
}

// startReporting runs one replica that reports as report says.
func (s *replicaSetup) startReporting(t *testing.T, name string, report kafkawakereceiver.ReportScope) *pipeline {
	t.Helper()
	rcfg := receiverConfig(s.k.Kfake.ListenAddrs(), s.bindings...)
	rcfg.ClientID = name
	rcfg.Coordination = configoptional.Some(kafkawakereceiver.CoordinationConfig{
		Group: "replicas", SessionTimeout: replicaSession, HeartbeatInterval: 500 * time.Millisecond, Report: report,
	})
	return startPipeline(t, rcfg, processorConfig(s.sf.URL))
}

// owned counts the bindings the replica's latest report says it owns.
func owned(p *pipeline) int {
	all := p.sink.AllMetrics()
	for i := len(all) - 1; i >= 0; i-- {
		n, found := 0, false
		forEachPoint(all[i], schema.MetricsInfo.SlimfaaskafkaBindingOwned.Name, func(_ map[string]any, dp pmetric.NumberDataPoint) {
			found = true
			n += int(dp.IntValue())
		})
		if found {
			return n
		}
	}
	return 0
}

func (s *replicaSetup) waitOwned(t *testing.T, p *pipeline, cond func(int) bool, msg string) {
	t.Helper()
	require.Eventually(t, func() bool { return cond(owned(p)) }, replicaWait, 20*time.Millisecond, msg)
}

func (s *replicaSetup) waitWakes(t *testing.T, total int) {
	t.Helper()
	require.Eventually(t, func() bool { return s.sf.TotalWakes() >= total }, replicaWait, 20*time.Millisecond, "%d wakes expected, got %v", total, s.sf.Wakes())
}

func (s *replicaSetup) requireWakesEach(t *testing.T, n int) {
	t.Helper()
	wakes := s.sf.Wakes()
	for _, b := range s.bindings {
		assert.Equal(t, n, wakes[b.Function], "wakes of %s", b.Function)
	}
}

// A rolling restart of two replicas (stop one, start it again, then the
// other) moves every binding at least once: no function is woken twice, none
// is lost, and fresh replicas split the next wakes exactly.
func TestRollingRestartWakesEachFunctionOnce(t *testing.T) {
	s := newReplicaSetup(t)
	s.produce(10)
	a, b := s.start(t, "replica-a"), s.start(t, "replica-b")
	s.waitWakes(t, replicaFunctions)
	s.waitOwned(t, a, func(n int) bool { return n > 0 && n < replicaFunctions }, "a owns part of the bindings")

	a.stop()
	s.waitOwned(t, b, func(n int) bool { return n == replicaFunctions }, "b takes a's bindings over at once")
	a2 := s.start(t, "replica-a")
	s.waitOwned(t, a2, func(n int) bool { return n > 0 }, "the restarted a gets a share back")
	b.stop()
	s.waitOwned(t, a2, func(n int) bool { return n == replicaFunctions }, "a takes b's bindings over at once")
	b2 := s.start(t, "replica-b")
	s.waitOwned(t, b2, func(n int) bool { return n > 0 }, "the restarted b gets a share back")
	b2.waitBatches(t, 4)
	s.requireWakesEach(t, 1)

	// New messages for every function: each is woken once more, by one of
	// the two fresh replicas.
	s.produce(10)
	s.waitWakes(t, 2*replicaFunctions)
	a2.waitBatches(t, 4)
	b2.waitBatches(t, 4)
	s.requireWakesEach(t, 2)
}

// A replica whose coordinator answers its heartbeats late (not lost) stops
// waking before the other replica takes its bindings over, and the other
// replica, which saw the same observations, does not wake again what it
// woke: each function is woken exactly once.
func TestASlowCoordinatorNeverDoublesAWake(t *testing.T) {
	s := newReplicaSetup(t)
	a, b := s.start(t, "replica-a"), s.start(t, "replica-b")
	s.waitOwned(t, a, func(n int) bool { return n > 0 && n < replicaFunctions }, "a owns part of the bindings")
	s.waitOwned(t, b, func(n int) bool { return n > 0 && n < replicaFunctions }, "b owns part of the bindings")

	release := make(chan struct{})
	released := false
	releaseOnce := func() {
		if !released {
			released = true
			close(release)
		}
	}
	t.Cleanup(releaseOnce)
	s.k.Kfake.ControlKey(int16(kmsg.Heartbeat), func(req kmsg.Request) (kmsg.Response, error, bool) {
		s.k.Kfake.KeepControl()
		if strings.HasPrefix(req.(*kmsg.HeartbeatRequest).MemberID, "replica-a") {
			s.k.Kfake.SleepControl(func() { <-release })
		}
		return nil, nil, false
	})
	s.produce(10)
	s.waitOwned(t, b, func(n int) bool { return n == replicaFunctions }, "b takes a's bindings over after the session")
	s.waitWakes(t, replicaFunctions)
	releaseOnce()
	s.waitOwned(t, a, func(n int) bool { return n > 0 }, "a rejoins once answered")
	a.waitBatches(t, 4)
	b.waitBatches(t, 4)
	s.requireWakesEach(t, 1)
}

// Messages that arrive as a replica leaves are not lost: the other replica
// observed the leaving one's bindings and mirrored the wakes it expected it
// to make, but the leaving replica made none, so once the bindings move, the
// new owner wakes each function, once, with either report scope.
func TestFunctionsPendingAsTheirOwnerLeavesAreWoken(t *testing.T) {
	for _, report := range []kafkawakereceiver.ReportScope{kafkawakereceiver.ReportAll, kafkawakereceiver.ReportOwned} {
		t.Run(string(report), func(t *testing.T) {
			s := newReplicaSetup(t)
			a, b := s.startReporting(t, "replica-a", report), s.startReporting(t, "replica-b", report)
			s.waitOwned(t, a, func(n int) bool { return n > 0 && n < replicaFunctions }, "a owns part of the bindings")
			s.waitOwned(t, b, func(n int) bool { return n > 0 && n < replicaFunctions }, "b owns part of the bindings")

			a.stop()
			s.produce(1)
			s.waitWakes(t, replicaFunctions)
			b.waitBatches(t, b.batches()+4)
			s.requireWakesEach(t, 1)
		})
	}
}
