package kafkawakereceiver

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/kafka/configkafka"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/kafkawake/kafkawake/internal/kafkatest"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/metadata"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/offset"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/watch"
)

// watchScrapeInterval is far longer than any test: every report after the
// first scrape is an early one.
const watchScrapeInterval = time.Minute

// reportWait bounds how long a test waits for an early report, on a machine
// shared with other tests; the watch itself answers within milliseconds.
const reportWait = 10 * time.Second

// watchedReceiver runs the whole receiver, watch on, into a sink.
type watchedReceiver struct {
	t    *testing.T
	r    *reportingReceiver
	sink *consumertest.MetricsSink
	logs *observer.ObservedLogs
}

func startWatchedReceiver(t *testing.T, configure func(*Config)) *watchedReceiver {
	t.Helper()
	return startWatchedReceiverWith(t, configure, func(*kafkaScraper) {})
}

// startWatchedReceiverWith is startWatchedReceiver with prepare run on the
// scraper before the receiver starts.
func startWatchedReceiverWith(t *testing.T, configure func(*Config), prepare func(*kafkaScraper)) *watchedReceiver {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.CollectionInterval = watchScrapeInterval
	cfg.Watch.Enabled = true
	cfg.Watch.MaxWait = time.Second
	configure(cfg)
	require.NoError(t, cfg.Validate())
	core, logs := observer.New(zapcore.InfoLevel)
	set := receivertest.NewNopSettings(metadata.Type)
	set.Logger = zap.New(core)
	s := newKafkaScraper(cfg, set)
	prepare(s)
	sink := new(consumertest.MetricsSink)
	rcv, err := newMetricsReceiver(cfg, set, sink, s)
	require.NoError(t, err)
	require.NoError(t, rcv.Start(t.Context(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, rcv.Shutdown(context.Background())) })
	w := &watchedReceiver{t: t, r: rcv.(*reportingReceiver), sink: sink, logs: logs}
	w.waitReports(1) // the first scrape
	return w
}

// waitReports waits until the sink holds n batches and returns the last.
func (w *watchedReceiver) waitReports(n int) bindingPoints {
	w.t.Helper()
	require.Eventually(w.t, func() bool { return len(w.sink.AllMetrics()) >= n }, reportWait, 5*time.Millisecond,
		"expected %d reports, got %d", n, len(w.sink.AllMetrics()))
	all := w.sink.AllMetrics()
	return pointsByFunction(w.t, all[n-1])
}

// waitPending waits for a report, after the first n, with the given pending
// value for function, and returns it.
func (w *watchedReceiver) waitPending(n int, function string, want int64) bindingPoints {
	w.t.Helper()
	var found bindingPoints
	require.Eventually(w.t, func() bool {
		for _, md := range w.sink.AllMetrics()[n:] {
			pts := pointsByFunction(w.t, md)
			if pts.has(pendingName, function) && pts.intValue(w.t, pendingName, function) == want {
				found = pts
				return true
			}
		}
		return false
	}, reportWait, 5*time.Millisecond, "no report of %d pending for %s", want, function)
	return found
}

// waitWatched waits until the watch polls exactly the given partitions.
func (w *watchedReceiver) waitWatched(want ...offset.TopicPartition) {
	w.t.Helper()
	require.Eventually(w.t, func() bool {
		got := w.watched()
		return assert.ObjectsAreEqual(len(want), len(got)) && func() bool {
			for _, tp := range want {
				if !got[tp] {
					return false
				}
			}
			return true
		}()
	}, reportWait, 5*time.Millisecond, "watched partitions: %v, want %v", w.watched(), want)
}

func (w *watchedReceiver) plan() watch.Plan {
	return w.r.watch.Plan()
}

func (w *watchedReceiver) watched() map[offset.TopicPartition]bool {
	got := map[offset.TopicPartition]bool{}
	for _, targets := range w.plan() {
		for _, t := range targets {
			got[t.TopicPartition] = true
		}
	}
	return got
}

// watchOrders watches the one binding (orders, g, f) on c, and waits until
// the first partition of orders is polled.
func watchOrders(t *testing.T, c *kafkatest.Cluster) *watchedReceiver {
	t.Helper()
	w := startWatchedReceiver(t, func(cfg *Config) {
		cfg.Brokers = c.Kfake.ListenAddrs()
		cfg.Bindings = []BindingConfig{{Topic: "orders", ConsumerGroup: "g", Function: "f"}}
	})
	w.waitWatched(partitionsOf("orders", 1)...)
	return w
}

func partitionsOf(topic string, n int32) []offset.TopicPartition {
	var out []offset.TopicPartition
	for p := range n {
		out = append(out, offset.TopicPartition{Topic: topic, Partition: p})
	}
	return out
}

func TestWatchReportsAnIdleBindingAtOnceAndLeavesBusyOnesAlone(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(3, "orders", "busy"))
	c.Produce("busy", 0, 5)
	w := startWatchedReceiver(t, func(cfg *Config) {
		cfg.Brokers = c.Kfake.ListenAddrs()
		cfg.Bindings = []BindingConfig{
			{Topic: "orders", ConsumerGroup: "sleepers", Function: "sleeper"},
			{Topic: "busy", ConsumerGroup: "workers", Function: "worker"},
		}
	})
	first := w.sink.AllMetrics()[0]
	pts := pointsByFunction(t, first)
	require.Equal(t, int64(0), pts.intValue(t, pendingName, "sleeper"))
	require.Equal(t, int64(5), pts.intValue(t, pendingName, "worker"))
	w.waitWatched(partitionsOf("orders", 3)...)

	produced := time.Now()
	c.Produce("orders", 1, 1)
	pts = w.waitReports(2)
	assert.Less(t, time.Since(produced), watchScrapeInterval/2, "the report must come from the watch, not the next scrape")
	assert.Equal(t, int64(1), pts.intValue(t, pendingName, "sleeper"))
	assert.False(t, pts.has(pendingName, "worker"), "only the bindings that received a message are reported early")
	// Once pending, the binding is no longer watched.
	w.waitWatched()
}

func TestWatchEarlyReportKeepsConsumptionAndActivity(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(1, "orders"))
	c.Produce("orders", 0, 10)
	c.Commit("g", "orders", 0, 10)
	w := watchOrders(t, c)

	c.Produce("orders", 0, 4)
	pts := w.waitReports(2)
	assert.Equal(t, int64(4), pts.intValue(t, pendingName, "f"))
	assert.Equal(t, int64(0), pts.intValue(t, consumedName, "f"))
	assert.False(t, pts.has(lastActivityName, "f"), "an early report is no activity by itself")

	// The woken function consumes; the scrape after the early report counts
	// the consumption once, from the early report's commits.
	c.Commit("g", "orders", 0, 14)
	md, err := w.r.scraper.scrape(c.Ctx())
	require.NoError(t, err)
	pts = pointsByFunction(t, md)
	assert.Equal(t, int64(0), pts.intValue(t, pendingName, "f"))
	assert.Equal(t, int64(4), pts.intValue(t, consumedName, "f"))
	assert.True(t, pts.has(lastActivityName, "f"))
	// Idle again: watched again, from the new end.
	w.waitWatched(partitionsOf("orders", 1)...)
	from := w.plan()[c.Kfake.LeaderFor("orders", 0)][0].From
	assert.Equal(t, int64(14), from)
}

func TestWatchFollowsALeaderMove(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(1, "orders"))
	w := watchOrders(t, c)

	old := c.Kfake.LeaderFor("orders", 0)
	next := (old + 1) % 3
	require.NoError(t, c.Kfake.MoveTopicPartition("orders", 0, next))
	// The parked poll answers NOT_LEADER at most max_wait later; the watch
	// refreshes and polls the new leader.
	require.Eventually(t, func() bool {
		plan := w.plan()
		return len(plan[next]) == 1 && len(plan[old]) == 0
	}, reportWait, 5*time.Millisecond, "plan %v, leader %d -> %d, logs %v", w.plan(), old, next, w.logs.All())
	n := len(w.sink.AllMetrics())

	c.Produce("orders", 0, 2)
	w.waitPending(n, "f", 2)
}

func TestWatchDropsADeletedTopic(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(2, "doomed", "kept"))
	w := startWatchedReceiver(t, func(cfg *Config) {
		cfg.Brokers = c.Kfake.ListenAddrs()
		cfg.Bindings = []BindingConfig{
			{Topic: "doomed", ConsumerGroup: "g", Function: "doomed"},
			{Topic: "kept", ConsumerGroup: "g", Function: "kept"},
		}
	})
	w.waitWatched(append(partitionsOf("doomed", 2), partitionsOf("kept", 2)...)...)

	resp, err := c.Adm.DeleteTopics(c.Ctx(), "doomed")
	require.NoError(t, err)
	require.NoError(t, resp.Error())
	// The polls answer UNKNOWN_TOPIC: the binding is observed at once, is
	// unreadable, and is no longer watched; the other topic still is.
	w.waitWatched(partitionsOf("kept", 2)...)
	// Logged once per distinct cause (the metadata or the offsets may be
	// first to notice), not once per poll.
	logs := w.logs.FilterMessageSnippet("Cannot read").FilterField(zap.String("function", "doomed"))
	assert.GreaterOrEqual(t, logs.Len(), 1)
	assert.LessOrEqual(t, logs.Len(), 2)

	n := len(w.sink.AllMetrics())
	c.Produce("kept", 1, 1)
	w.waitPending(n, "kept", 1)
}

func TestWatchReadDeniedIsLoggedOnceAndTurnedOff(t *testing.T) {
	c := kafkatest.NewAs(t, []kgo.Opt{adminSASL},
		kfake.SeedTopics(1, "readable", "secret"),
		kfake.EnableSASL(),
		kfake.EnableACLs(),
		kfake.Superuser("PLAIN", "admin", "admin-secret"),
		kfake.User("PLAIN", "monitor", "monitor-secret",
			kafkatest.AllowACL(kmsg.ACLResourceTypeTopic, "readable", kmsg.ACLOperationRead),
			kafkatest.AllowACL(kmsg.ACLResourceTypeTopic, "secret", kmsg.ACLOperationDescribe),
			kafkatest.AllowACL(kmsg.ACLResourceTypeGroup, "g", kmsg.ACLOperationDescribe),
		),
	)
	w := startWatchedReceiver(t, func(cfg *Config) {
		cfg.Brokers = c.Kfake.ListenAddrs()
		cfg.Authentication.SASL = &configkafka.SASLConfig{Mechanism: MechanismPlain, Username: "monitor", Password: "monitor-secret"}
		cfg.Bindings = []BindingConfig{
			{Topic: "readable", ConsumerGroup: "g", Function: "readable"},
			{Topic: "secret", ConsumerGroup: "g", Function: "secret"},
		}
	})
	// kfake answers a denied Read when the poll ends, after max_wait.
	w.waitWatched(partitionsOf("readable", 1)...)
	require.Eventually(t, func() bool {
		return w.logs.FilterMessageSnippet("not authorized to read the topic").Len() > 0
	}, reportWait, 5*time.Millisecond)
	denied := w.logs.FilterMessageSnippet("not authorized to read the topic")
	require.Equal(t, 1, denied.Len())
	assert.Equal(t, "secret", denied.All()[0].ContextMap()["topic"])

	// The scrape still reports the denied topic's binding; the watch stays
	// off for it and on for the other.
	md, err := w.r.scraper.scrape(c.Ctx())
	require.NoError(t, err)
	assert.Equal(t, int64(0), pointsByFunction(t, md).intValue(t, pendingName, "secret"))
	w.waitWatched(partitionsOf("readable", 1)...)
	n := len(w.sink.AllMetrics())
	c.Produce("readable", 0, 1)
	w.waitPending(n, "readable", 1)
	assert.Equal(t, 1, w.logs.FilterMessageSnippet("not authorized to read the topic").Len(), "logged once")
}

func TestWatchCoversAddedPartitions(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(1, "orders"))
	w := watchOrders(t, c)

	resp, err := c.Adm.CreatePartitions(c.Ctx(), 2, "orders")
	require.NoError(t, err)
	require.NoError(t, resp.Error())
	// The next scrape sees the new partitions and the watch re-arms with them.
	require.Eventually(t, func() bool {
		_, err := w.r.scraper.scrape(c.Ctx())
		return err == nil && len(w.watched()) == 3
	}, reportWait, 50*time.Millisecond)
	n := len(w.sink.AllMetrics())

	c.Produce("orders", 2, 1)
	w.waitPending(n, "f", 1)
}

func TestWatchReArmsAParkedPollWhenABindingGoesIdle(t *testing.T) {
	// One broker leads everything, so the new target joins a parked poll.
	c := kafkatest.New(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "quiet", "busy"))
	c.Produce("busy", 0, 3)
	w := startWatchedReceiver(t, func(cfg *Config) {
		cfg.Brokers = c.Kfake.ListenAddrs()
		// Longer than reportWait: only a re-armed poll can report in time.
		cfg.Watch.MaxWait = 30 * time.Second
		cfg.Bindings = []BindingConfig{
			{Topic: "quiet", ConsumerGroup: "g", Function: "quiet"},
			{Topic: "busy", ConsumerGroup: "g", Function: "busy"},
		}
	})
	w.waitWatched(partitionsOf("quiet", 1)...)

	c.Commit("g", "busy", 0, 3)
	_, err := w.r.scraper.scrape(c.Ctx())
	require.NoError(t, err)
	w.waitWatched(append(partitionsOf("quiet", 1), partitionsOf("busy", 1)...)...)
	n := len(w.sink.AllMetrics())

	c.Produce("busy", 0, 1)
	w.waitPending(n, "busy", 1)
}

func TestWatchPollsEveryLeaderBroker(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(3, "a", "b", "c"))
	var mu sync.Mutex
	polls := map[int32]int{}
	seen := map[kmsg.Request]bool{} // a parked Fetch passes the control again when it fires
	c.Kfake.ControlKey(int16(kmsg.Fetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.Kfake.KeepControl()
		mu.Lock()
		defer mu.Unlock()
		if !seen[req] {
			seen[req] = true
			polls[c.Kfake.CurrentNode()]++
		}
		return nil, nil, false
	})
	leaders := map[int32]bool{}
	for _, topic := range []string{"a", "b", "c"} {
		for p := range int32(3) {
			leaders[c.Kfake.LeaderFor(topic, p)] = true
		}
	}
	startWatchedReceiver(t, func(cfg *Config) {
		cfg.Brokers = c.Kfake.ListenAddrs()
		cfg.Watch.MaxWait = 100 * time.Millisecond
		cfg.Bindings = []BindingConfig{
			{Topic: "a", ConsumerGroup: "g", Function: "a"},
			{Topic: "b", ConsumerGroup: "g", Function: "b"},
			{Topic: "c", ConsumerGroup: "g", Function: "c"},
		}
	})
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for leader := range leaders {
			if polls[leader] < 3 {
				return false
			}
		}
		return true
	}, reportWait, 10*time.Millisecond, "polls per broker: %v, leaders %v", polls, leaders)
}

func TestEarlyReportLeavesTheOtherBindingsStateAlone(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(1, "payments", "orders"))
	transactionalTopic(t, c, "payments", "payers")
	s, _ := startScraperWith(t, func(cfg *Config) {
		cfg.Brokers = c.Kfake.ListenAddrs()
		cfg.IsolationLevel = IsolationReadCommitted
		cfg.Bindings = []BindingConfig{
			{Topic: "payments", ConsumerGroup: "payers", Function: "payer"},
			{Topic: "orders", ConsumerGroup: "g", Function: "orders"},
		}
	})
	rc := countRequests(c.Kfake)
	assert.Equal(t, int64(0), scrapeOK(t, c, s).intValue(t, pendingName, "payer"), "markers only: checked and found empty")

	// An early report of the other binding, as the watch makes it.
	c.Produce("orders", 0, 2)
	md, _, err := s.Observe(c.Ctx(), func() []int { return []int{1} })
	require.NoError(t, err)
	pts := pointsByFunction(t, md)
	assert.Equal(t, int64(2), pts.intValue(t, pendingName, "orders"))
	assert.False(t, pts.has(pendingName, "payer"), "only the reported binding has points")

	assert.Equal(t, int64(0), scrapeOK(t, c, s).intValue(t, pendingName, "payer"))
	counts, _ := rc.snapshot()
	assert.Equal(t, int64(1), counts["Fetch"], "the payer's residue verdict survived the early report: not checked again")
}

func TestWatchRetriesAFailingBrokerAndLogsOnce(t *testing.T) {
	c := kafkatest.New(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "orders"))
	const failures = 4
	var mu sync.Mutex
	failed := 0
	c.Kfake.ControlKey(int16(kmsg.Fetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		mu.Lock()
		defer mu.Unlock()
		if failed == failures {
			return nil, nil, false // the control is dropped: the broker answers again
		}
		c.Kfake.KeepControl()
		failed++
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		resp.ErrorCode = kerr.UnknownServerError.Code
		return resp, nil, true
	})
	w := watchOrders(t, c)
	require.Eventually(t, func() bool {
		return w.logs.FilterMessageSnippet("the long poll works again").Len() == 1
	}, reportWait, 10*time.Millisecond)
	assert.Equal(t, 1, w.logs.FilterMessageSnippet("the long poll failed").Len(), "%d failures, one line", failures)

	n := len(w.sink.AllMetrics())
	c.Produce("orders", 0, 1)
	w.waitPending(n, "f", 1)
}

func TestWatchReportsOnlyTheBindingsThisReplicaOwns(t *testing.T) {
	// One broker, so one poll loop: a report of "theirs" would come before
	// or with the report of "mine".
	c := kafkatest.New(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "mine", "theirs"))
	owner := &settableOwner{}
	owner.set(0, 1)
	w := startWatchedReceiverWith(t, func(cfg *Config) {
		cfg.Brokers = c.Kfake.ListenAddrs()
		cfg.Bindings = []BindingConfig{
			{Topic: "mine", ConsumerGroup: "g", Function: "mine"},
			{Topic: "theirs", ConsumerGroup: "g", Function: "theirs"},
		}
	}, func(s *kafkaScraper) { s.owner, s.observeAll = owner, false })
	w.waitWatched(append(partitionsOf("mine", 1), partitionsOf("theirs", 1)...)...)

	// Another replica takes "theirs" over; the next scrape has not run yet,
	// so its partition is still polled, but it is not reported.
	owner.set(0)
	n := len(w.sink.AllMetrics())
	c.Produce("theirs", 0, 1)
	c.Produce("mine", 0, 1)
	w.waitPending(n, "mine", 1)
	for _, md := range w.sink.AllMetrics()[n:] {
		assert.False(t, pointsByFunction(t, md).has(pendingName, "theirs"), "a binding another replica owns is not reported")
	}

	// The next scrape stops watching it.
	_, err := w.r.scraper.scrape(c.Ctx())
	require.NoError(t, err)
	w.waitWatched()
}
