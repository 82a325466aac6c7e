package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// eventually is generous: these waits are for a consumer group to join and
// work through a few dozen messages on a possibly loaded CI machine.
const eventually = 30 * time.Second

func testConfig() config {
	return config{
		KafkaAddr:    "127.0.0.1:0",
		Topic:        "test-orders",
		Partitions:   3,
		WakeAddr:     "127.0.0.1:0",
		Function:     "test-consumer",
		Group:        "test-group",
		Workers:      1,
		ProcessDelay: time.Millisecond,
		IdleTimeout:  time.Minute,
	}
}

func startTestStack(t *testing.T, cfg config) (*stack, *kadm.Client) {
	t.Helper()
	s, err := startStack(cfg, t.Output())
	require.NoError(t, err)
	t.Cleanup(s.close)

	client, err := kgo.NewClient(kgo.SeedBrokers(s.kafkaAddr()), kgo.DisableClientMetrics())
	require.NoError(t, err)
	t.Cleanup(client.Close)
	return s, kadm.NewClient(client)
}

func sendWake(t *testing.T, method, url string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	require.NoError(t, err)
	// No keep-alive: an idle connection would outlive the test.
	req.Close = true
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return resp.StatusCode
}

func committedTotal(ctx context.Context, admin *kadm.Client, group string) (int64, error) {
	offsets, err := admin.FetchOffsets(ctx, group)
	if err != nil {
		return 0, err
	}
	var total int64
	offsets.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil {
			total += o.At
		}
	})
	return total, offsets.Error()
}

// waitProduced waits until the topic's partitions hold n records in all.
func waitProduced(t *testing.T, admin *kadm.Client, topic string, n int64) {
	t.Helper()
	require.Eventually(t, func() bool {
		total, err := endOffsetTotal(t.Context(), admin, topic)
		return err == nil && total == n
	}, eventually, 20*time.Millisecond)
}

func endOffsetTotal(ctx context.Context, admin *kadm.Client, topic string) (int64, error) {
	offsets, err := admin.ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, err
	}
	var total int64
	offsets.Each(func(o kadm.ListedOffset) { total += o.Offset })
	return total, offsets.Error()
}

func TestWakeAPIRejectsUnknownFunctionsAndOtherMethods(t *testing.T) {
	s, _ := startTestStack(t, testConfig())

	require.Equal(t, http.StatusNotFound, sendWake(t, http.MethodPost, s.wakeURL("someone-else")))
	require.Equal(t, http.StatusMethodNotAllowed, sendWake(t, http.MethodGet, s.wakeURL("test-consumer")))
	require.False(t, s.function.isRunning(), "only a POST wake for the function may start it")
}

func TestWakeStartsFunctionThatCommitsEverythingProduced(t *testing.T) {
	cfg := testConfig()
	cfg.Burst = 30
	s, admin := startTestStack(t, cfg)
	ctx := t.Context()

	waitProduced(t, admin, cfg.Topic, 30)
	require.False(t, s.function.isRunning(), "messages alone must not start the function")
	_, err := committedTotal(ctx, admin, cfg.Group)
	require.ErrorIs(t, err, kerr.GroupIDNotFound, "nothing may have joined the group before the wake")

	require.Equal(t, http.StatusNoContent, sendWake(t, http.MethodPost, s.wakeURL(cfg.Function)))
	require.True(t, s.function.isRunning())
	require.Equal(t, http.StatusNoContent, sendWake(t, http.MethodPost, s.wakeURL(cfg.Function)),
		"a wake for a running function still succeeds")

	require.Eventually(t, func() bool {
		total, err := committedTotal(ctx, admin, cfg.Group)
		return err == nil && total == 30
	}, eventually, 20*time.Millisecond)
}

func TestFunctionScalesToZeroWhenIdleAndWakesAgain(t *testing.T) {
	cfg := testConfig()
	// Long enough for a fetch under -race on a loaded machine, short
	// enough to watch it happen twice.
	cfg.IdleTimeout = time.Second
	s, admin := startTestStack(t, cfg)
	ctx := t.Context()

	require.Equal(t, http.StatusNoContent, sendWake(t, http.MethodPost, s.wakeURL(cfg.Function)))
	require.Eventually(t, func() bool { return !s.function.isRunning() }, eventually, 20*time.Millisecond)

	// Messages arriving while scaled to zero wait for the next wake.
	produce(t, s, cfg.Topic, 5)
	require.False(t, s.function.isRunning())
	require.Equal(t, http.StatusNoContent, sendWake(t, http.MethodPost, s.wakeURL(cfg.Function)))
	require.Eventually(t, func() bool {
		total, err := committedTotal(ctx, admin, cfg.Group)
		return err == nil && total == 5
	}, eventually, 20*time.Millisecond)
	require.Eventually(t, func() bool { return !s.function.isRunning() }, eventually, 20*time.Millisecond)
}

// TestASlowJoinIsNotIdleness: the group answers the instance's join only
// after twice the idle timeout, as a loaded machine can; the instance still
// works through what waited instead of scaling to zero before it is a member.
func TestASlowJoinIsNotIdleness(t *testing.T) {
	cfg := testConfig()
	cfg.IdleTimeout = time.Second
	s, admin := startTestStack(t, cfg)
	s.cluster.ControlKey(int16(kmsg.JoinGroup), func(kmsg.Request) (kmsg.Response, error, bool) {
		s.cluster.SleepControl(func() {
			select {
			case <-time.After(2 * cfg.IdleTimeout):
			case <-t.Context().Done():
			}
		})
		s.cluster.DropControl() // one slow join is enough
		return nil, nil, false
	})

	produce(t, s, cfg.Topic, 5)
	require.Equal(t, http.StatusNoContent, sendWake(t, http.MethodPost, s.wakeURL(cfg.Function)))
	require.Eventually(t, func() bool {
		total, err := committedTotal(t.Context(), admin, cfg.Group)
		return err == nil && total == 5
	}, eventually, 20*time.Millisecond)
}

// TestQueueWorkersDrainOnePartition: with a share group, a wake starts
// three workers on a one-partition topic, and together they acknowledge
// everything produced, including the burst produced before the wake.
func TestQueueWorkersDrainOnePartition(t *testing.T) {
	cfg := testConfig()
	cfg.Partitions, cfg.ShareGroup, cfg.Workers, cfg.Burst = 1, "test-queue", 3, 30
	s, admin := startTestStack(t, cfg)
	ctx := t.Context()
	waitProduced(t, admin, cfg.Topic, 30)

	require.Equal(t, http.StatusNoContent, sendWake(t, http.MethodPost, s.wakeURL(cfg.Function)))
	require.Eventually(t, func() bool {
		described, err := admin.DescribeShareGroupOffsets(ctx, cfg.ShareGroup)
		if err != nil || described[cfg.ShareGroup].Err != nil {
			return false
		}
		o, ok := described[cfg.ShareGroup].Offsets.Lookup(cfg.Topic, 0)
		return ok && o.StartOffset == 30 && o.Lag == 0
	}, eventually, 20*time.Millisecond, "the workers acknowledge every record")
	members, err := admin.DescribeShareGroups(ctx, cfg.ShareGroup)
	require.NoError(t, err)
	require.Len(t, members[cfg.ShareGroup].Members, 3, "three workers share the one partition")
}

func TestSeveralWorkersNeedAShareGroup(t *testing.T) {
	cfg := testConfig()
	cfg.Workers = 2
	_, err := startStack(cfg, t.Output())
	require.ErrorContains(t, err, "several workers need -share-group")
}

func produce(t *testing.T, s *stack, topic string, n int) {
	t.Helper()
	client, err := kgo.NewClient(
		kgo.SeedBrokers(s.kafkaAddr()),
		kgo.DefaultProduceTopic(topic),
		kgo.DisableClientMetrics(),
	)
	require.NoError(t, err)
	defer client.Close()
	records := make([]*kgo.Record, n)
	for i := range records {
		records[i] = kgo.StringRecord("late order")
	}
	require.NoError(t, client.ProduceSync(t.Context(), records...).FirstErr())
}

func TestCollectorSummary(t *testing.T) {
	exposition := `# HELP slimfaaskafka_pending_messages Messages waiting.
# TYPE slimfaaskafka_pending_messages gauge
slimfaaskafka_pending_messages{function="demo-consumer",group="demo-group",topic="demo-orders"} 12
slimfaaskafka_pending_messages{function="other",group="g",topic="t"} 99
slimfaaskafka_consumed_messages_total{function="demo-consumer",group="demo-group",topic="demo-orders"} 18
slimfaaskafka_wakeups_total{function="demo-consumer",group="demo-group",reason="pending",topic="demo-orders"} 1
slimfaaskafka_wakeups_total{function="demo-consumer",group="demo-group",reason="activity",topic="demo-orders"} 2
slimfaaskafka_wake_failures_total{function="demo-consumer",group="demo-group",reason="pending",topic="demo-orders"} 0
`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(exposition))
	}))
	defer srv.Close()

	summary, err := collectorSummary(context.Background(), srv.Client(), srv.URL, "demo-consumer")
	require.NoError(t, err)
	require.Equal(t, "pending=12 consumed=18 wakeups=3 wake_failures=0 last_activity=none yet", summary)
}
