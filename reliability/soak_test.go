package reliability

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap/zapcore"

	"github.com/kafkawake/kafkawake/internal/kafkatest"
	schema "github.com/kafkawake/kafkawake/internal/metadata"
	"github.com/kafkawake/kafkawake/internal/slimfaastest"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver"
)

var soakDuration = flag.Duration("soak", 0, "run TestSoak for this long, e.g. 30m; without it the soak does not run")

const (
	soakTopics     = 50
	soakPartitions = 4
	soakBindings   = 500
)

// TestSoak runs 500 bindings with random production and consumption and a
// fault, on Kafka or on SlimFaas, for 20 s of every minute, and reports the
// process's RSS and goroutines at the start and the end.
func TestSoak(t *testing.T) {
	if *soakDuration == 0 {
		t.Skip("the soak runs only with -soak DURATION (make soak)")
	}
	k := kafkatest.New(t, kfake.SeedTopics(soakPartitions, soakTopicNames()...))
	sf := slimfaastest.New(t)
	var bindings []kafkawakereceiver.BindingConfig
	for i := range soakBindings {
		bindings = append(bindings, kafkawakereceiver.BindingConfig{
			Topic: fmt.Sprintf("soak-%02d", i%soakTopics), ConsumerGroup: fmt.Sprintf("group-%03d", i), Function: fmt.Sprintf("fn-%03d", i),
		})
	}
	rcfg := receiverConfig(k.Kfake.ListenAddrs(), bindings...)
	rcfg.CollectionInterval = time.Second
	rcfg.Timeout = 800 * time.Millisecond
	pcfg := processorConfig(sf.URL)
	pcfg.Defaults.Cooldown = 30 * time.Second
	// Keeping every batch or log line of a long run would measure the test,
	// not the pipeline: the sink checks each batch and keeps counts only, and
	// no log line is kept.
	sink := &checkingSink{}
	startPipelineTo(t, rcfg, pcfg, sink, zapcore.FatalLevel)

	rng := rand.New(rand.NewPCG(1, 2))
	// workload produces to, and consumes part of, a random binding. During
	// Kafka faults its own calls fail too; it moves on.
	workload := func() {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		b := bindings[rng.IntN(len(bindings))]
		partition := int32(rng.IntN(soakPartitions))
		records := make([]*kgo.Record, rng.IntN(5)+1)
		for i := range records {
			records[i] = &kgo.Record{Topic: b.Topic, Partition: partition, Value: []byte("m")}
		}
		if k.Client.ProduceSync(ctx, records...).FirstErr() != nil {
			return
		}
		ends, err := k.Adm.ListEndOffsets(ctx, b.Topic)
		if err != nil {
			return
		}
		if end, ok := ends.Lookup(b.Topic, partition); ok && end.Offset > 0 {
			var offsets kadm.Offsets
			offsets.Add(kadm.Offset{Topic: b.Topic, Partition: partition, At: rng.Int64N(end.Offset + 1), LeaderEpoch: -1})
			_, _ = k.Adm.CommitOffsets(ctx, b.ConsumerGroup, offsets)
		}
	}

	warmUp := time.Now().Add(30 * time.Second)
	for time.Now().Before(warmUp) {
		workload()
		time.Sleep(50 * time.Millisecond) // pacing of the simulated traffic
	}
	runtime.GC()
	startRSS, startGoroutines := rssKiB(t), runtime.NumGoroutine()

	// Retention deletes all but the last 50 records of every partition every
	// 20 s, which keeps the in-process cluster's memory flat and moves log
	// starts past commits.
	stopRetention, retentionDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(retentionDone)
		for {
			select {
			case <-stopRetention:
				return
			case <-time.After(20 * time.Second):
			}
			for _, topic := range soakTopicNames() {
				for p := range int32(soakPartitions) {
					if info := k.Kfake.PartitionInfo(topic, p); info != nil && info.HighWatermark-50 > info.LogStartOffset {
						_ = k.Kfake.DeleteRecords(topic, p, info.HighWatermark-50)
					}
				}
			}
		}
	}()
	defer func() { close(stopRetention); <-retentionDone }()

	// Faults follow their own clock, so that a workload call stuck in a
	// fault cannot delay the recovery.
	stopFaults, faultCount := make(chan struct{}), make(chan int)
	go func() {
		faults := 0
		for phase := 0; ; phase++ {
			var recover func()
			if phase%2 == 0 {
				recover = kafkaFaults[faults%len(kafkaFaults)].inject(k)
			} else {
				sf.Script(wakeFaults[faults%len(wakeFaults)].respond)
				recover = func() { sf.Script(nil) }
			}
			faults++
			for _, wait := range []time.Duration{20 * time.Second, 40 * time.Second} {
				select {
				case <-stopFaults:
					if recover != nil {
						recover()
					}
					faultCount <- faults
					return
				case <-time.After(wait):
				}
				if recover != nil {
					recover()
					recover = nil
				}
			}
		}
	}()
	for end := time.Now().Add(*soakDuration); time.Now().Before(end); {
		workload()
		time.Sleep(50 * time.Millisecond) // pacing of the simulated traffic
	}
	close(stopFaults)
	faults := <-faultCount
	time.Sleep(5 * rcfg.CollectionInterval) // let the pipeline catch up after the last fault
	runtime.GC()
	endRSS, endGoroutines := rssKiB(t), runtime.NumGoroutine()
	batches, pendingPoints, negative := sink.counts()
	t.Logf("soak %s, %d bindings, %d faults: RSS %d KiB -> %d KiB, goroutines %d -> %d, %d batches, %d pending points, %d successful wakes",
		*soakDuration, soakBindings, faults, startRSS, endRSS, startGoroutines, endGoroutines, batches, pendingPoints, sf.TotalWakes())

	assert.Zero(t, negative, "negative pending values")
	assert.Positive(t, pendingPoints)
	assert.LessOrEqual(t, endGoroutines, startGoroutines+20, "goroutines grow")
	assert.LessOrEqual(t, endRSS, startRSS*3/2+50*1024, "RSS grows")
}

// checkingSink counts batches and pending points and the pending values
// below zero, and keeps nothing else.
type checkingSink struct {
	mu                               sync.Mutex
	batches, pendingPoints, negative int
}

func (s *checkingSink) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (s *checkingSink) ConsumeMetrics(_ context.Context, md pmetric.Metrics) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches++
	forEachPoint(md, schema.MetricsInfo.SlimfaaskafkaPendingMessages.Name, func(_ map[string]any, dp pmetric.NumberDataPoint) {
		s.pendingPoints++
		if dp.IntValue() < 0 {
			s.negative++
		}
	})
	return nil
}

func (s *checkingSink) counts() (batches, pendingPoints, negative int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.batches, s.pendingPoints, s.negative
}

func soakTopicNames() []string {
	names := make([]string, soakTopics)
	for i := range names {
		names[i] = fmt.Sprintf("soak-%02d", i)
	}
	return names
}

// rssKiB reads this process's resident set size.
func rssKiB(t *testing.T) int64 {
	t.Helper()
	status, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			require.NoError(t, err)
			return kib
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}
