package main

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkawake/kafkawake/internal/ctxsleep"
)

// maxRecordsPerPoll keeps batches small, so the function commits and reports
// progress about once a second at the default process delay.
const maxRecordsPerPoll = 10

// function is the consumer SlimFaas scales: zero instances until a wake,
// then one group member that works through the topic and exits after
// IdleTimeout with nothing to read.
type function struct {
	cfg       config
	kafkaAddr string
	log       *console

	// ctx ends every instance when the stack closes.
	ctx    context.Context
	cancel context.CancelFunc

	mu        sync.Mutex
	running   bool
	instances sync.WaitGroup
}

func newFunction(cfg config, kafkaAddr string, log *console) *function {
	ctx, cancel := context.WithCancel(context.Background())
	return &function{cfg: cfg, kafkaAddr: kafkaAddr, log: log, ctx: ctx, cancel: cancel}
}

// wake starts an instance unless one is running, and reports whether it did.
func (f *function) wake() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.running {
		return false
	}
	f.running = true
	f.instances.Go(f.serve)
	return true
}

func (f *function) isRunning() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.running
}

// serve is one instance's life, from the wake to scaling to zero.
func (f *function) serve() {
	client, err := kgo.NewClient(
		kgo.SeedBrokers(f.kafkaAddr),
		kgo.ClientID(f.cfg.Function),
		kgo.ConsumerGroup(f.cfg.Group),
		kgo.ConsumeTopics(f.cfg.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// Committing only what was processed is what moves the group's
		// offsets, and so the lag the collector reads, message by message.
		kgo.DisableAutoCommit(),
		kgo.DisableClientMetrics(),
	)
	if err != nil {
		f.markStopped()
		f.log.printf("function", "cannot start: %v", err)
		return
	}
	defer client.Close()
	// Marked stopped before the client leaves the group, so a wake that
	// arrives meanwhile starts a new instance instead of being ignored.
	defer f.markStopped()
	f.log.printf("function", "%s started, consuming %s as group %s", f.cfg.Function, f.cfg.Topic, f.cfg.Group)

	processed := 0
	lastWork := time.Now()
	for {
		pollCtx, cancel := context.WithDeadline(f.ctx, lastWork.Add(f.cfg.IdleTimeout))
		fetches := client.PollRecords(pollCtx, maxRecordsPerPoll)
		cancel()
		if f.ctx.Err() != nil {
			f.log.printf("function", "stopped with the stack after processing %d messages", processed)
			return
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				f.log.printf("function", "fetching %s/%d: %v", topic, partition, err)
			}
		})

		records := fetches.Records()
		if len(records) == 0 {
			if time.Since(lastWork) >= f.cfg.IdleTimeout {
				f.log.printf("function", "nothing to read for %s, scaling to zero after processing %d messages",
					f.cfg.IdleTimeout, processed)
				return
			}
			continue
		}

		done := f.process(records)
		processed += len(done)
		if err := f.commit(client, done); err != nil {
			f.log.printf("function", "processed %d messages but committing failed: %v", len(done), err)
		} else {
			f.log.printf("function", "processed and committed %d messages (%d since start)", len(done), processed)
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

// commit still runs when the stack is closing, so the committed offsets match
// what was processed; the cluster outlives every instance.
func (f *function) commit(client *kgo.Client, records []*kgo.Record) error {
	if len(records) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(f.ctx), 5*time.Second)
	defer cancel()
	return client.CommitRecords(ctx, records...)
}

func (f *function) markStopped() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.running = false
}

// close stops every instance; the stack has stopped taking wakes by then.
func (f *function) close() {
	f.cancel()
	f.instances.Wait()
}
