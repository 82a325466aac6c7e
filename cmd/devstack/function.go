package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkawake/kafkawake/internal/ctxsleep"
)

// maxRecordsPerPoll keeps batches small, so the function commits and reports
// progress about once a second at the default process delay.
const maxRecordsPerPoll = 10

// function is the consumer SlimFaas scales: zero instances until a wake,
// then Workers members of its group that work through the topic and exit
// after IdleTimeout with nothing to read.
type function struct {
	cfg       config
	kafkaAddr string
	log       *console

	// ctx ends every instance when the stack closes.
	ctx    context.Context
	cancel context.CancelFunc

	mu        sync.Mutex
	running   int // instances not stopped yet
	instances sync.WaitGroup
}

func newFunction(cfg config, kafkaAddr string, log *console) *function {
	ctx, cancel := context.WithCancel(context.Background())
	return &function{cfg: cfg, kafkaAddr: kafkaAddr, log: log, ctx: ctx, cancel: cancel}
}

// wake starts Workers instances unless some are running, and reports
// whether it did.
func (f *function) wake() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.running > 0 {
		return false
	}
	f.running = f.cfg.Workers
	for worker := range f.cfg.Workers {
		f.instances.Go(func() { f.serve(worker) })
	}
	return true
}

func (f *function) isRunning() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.running > 0
}

// consumerOptions make an instance a member of the function's group: a
// share-group member acknowledges records one by one, a consumer-group
// member commits offsets.
func (f *function) consumerOptions(worker int, assigned *atomic.Int64) []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(f.kafkaAddr),
		kgo.ClientID(fmt.Sprintf("%s-%d", f.cfg.Function, worker)),
		kgo.ConsumeTopics(f.cfg.Topic),
		kgo.DisableClientMetrics(),
	}
	if f.cfg.ShareGroup != "" {
		return append(opts, kgo.ShareGroup(f.cfg.ShareGroup),
			kgo.ShareMaxRecords(maxRecordsPerPoll), kgo.ShareMaxRecordsStrict())
	}
	return append(opts,
		kgo.ConsumerGroup(f.cfg.Group),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// A slow join is not idleness: the idle clock restarts when the
		// group hands this instance its partitions.
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) {
			assigned.Store(time.Now().UnixNano())
		}),
		// Committing only what was processed is what moves the group's
		// offsets, and so the lag the collector reads, message by message.
		kgo.DisableAutoCommit())
}

// serve is one instance's life, from the wake to scaling to zero.
func (f *function) serve(worker int) {
	name := fmt.Sprintf("%s/%d", f.cfg.Function, worker)
	var assigned atomic.Int64
	client, err := kgo.NewClient(f.consumerOptions(worker, &assigned)...)
	if err != nil {
		f.markStopped()
		f.log.printf("function", "%s cannot start: %v", name, err)
		return
	}
	defer client.Close()
	// Marked stopped before the client leaves the group, so a wake that
	// arrives meanwhile starts a new instance instead of being ignored.
	defer f.markStopped()
	f.log.printf("function", "%s started, consuming %s (%s)", name, f.cfg.Topic, f.cfg.groupName())

	processed := 0
	lastWork := time.Now()
	// A consumer-group instance is not idle before its group hands it
	// partitions, however long the join takes on a loaded machine: until
	// then the idle clock stays at now. A share-group member has no such
	// moment to wait for, so its clock starts when it does.
	waitsForAssignment := f.cfg.ShareGroup == ""
	idleSince := func() time.Time {
		at := assigned.Load()
		if at == 0 && waitsForAssignment {
			return time.Now()
		}
		if at := time.Unix(0, at); at.After(lastWork) {
			return at
		}
		return lastWork
	}
	for {
		pollCtx, cancel := context.WithDeadline(f.ctx, idleSince().Add(f.cfg.IdleTimeout))
		fetches := client.PollRecords(pollCtx, maxRecordsPerPoll)
		cancel()
		if f.ctx.Err() != nil {
			f.log.printf("function", "%s stopped with the stack after processing %d messages", name, processed)
			return
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				f.log.printf("function", "fetching %s/%d: %v", topic, partition, err)
			}
		})

		records := fetches.Records()
		if len(records) == 0 {
			if time.Since(idleSince()) >= f.cfg.IdleTimeout {
				f.log.printf("function", "%s: nothing to read for %s, scaling to zero after processing %d messages",
					name, f.cfg.IdleTimeout, processed)
				return
			}
			continue
		}

		done := f.process(records)
		processed += len(done)
		if err := f.settle(client, records, done); err != nil {
			f.log.printf("function", "%s processed %d messages but settling them failed: %v", name, len(done), err)
		} else {
			f.log.printf("function", "%s processed and %s %d messages (%d since start)", name, f.settledVerb(), len(done), processed)
		}
		lastWork = time.Now()
	}
}

// process pretends to work on each record and returns those it finished
// before the stack started closing.
func (f *function) process(records []*kgo.Record) []*kgo.Record {
	for i := range records {
		if ctxsleep.Sleep(f.ctx, f.cfg.ProcessDelay) != nil {
			return records[:i]
		}
	}
	return records
}

// settle commits what was processed (a consumer group), or acknowledges it
// and releases the rest to the other workers (a share group). It still runs
// when the stack is closing, so the group's offsets match what was
// processed; the cluster outlives every instance.
func (f *function) settle(client *kgo.Client, polled, done []*kgo.Record) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(f.ctx), 5*time.Second)
	defer cancel()
	if f.cfg.ShareGroup == "" {
		if len(done) == 0 {
			return nil
		}
		return client.CommitRecords(ctx, done...)
	}
	for i, r := range polled {
		if i < len(done) {
			r.Ack(kgo.AckAccept)
		} else {
			r.Ack(kgo.AckRelease)
		}
	}
	return client.FlushAcks(ctx)
}

func (f *function) settledVerb() string {
	if f.cfg.ShareGroup != "" {
		return "acknowledged"
	}
	return "committed"
}

func (f *function) markStopped() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.running--
}

// close stops every instance; the stack has stopped taking wakes by then.
func (f *function) close() {
	f.cancel()
	f.instances.Wait()
}
