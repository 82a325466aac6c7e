package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkawake/kafkawake/internal/ctxsleep"
)

// burstClock remembers when the producer's latest burst began, so that a
// wake can say how long after the messages it came.
type burstClock struct{ startedAt atomic.Int64 }

func (c *burstClock) start() { c.startedAt.Store(time.Now().UnixNano()) }

// since returns the time since the latest burst began, false before the
// first burst.
func (c *burstClock) since() (time.Duration, bool) {
	at := c.startedAt.Load()
	if at == 0 {
		return 0, false
	}
	return time.Since(time.Unix(0, at)), true
}

// producer stands for the applications that write to the topic: a burst of
// messages after a start delay, then again at a fixed interval.
type producer struct {
	client *kgo.Client
	cfg    config
	log    *console
	bursts *burstClock
	cancel context.CancelFunc
	done   sync.WaitGroup
}

func startProducer(cfg config, kafkaAddr string, log *console, bursts *burstClock) (*producer, error) {
	client, err := kgo.NewClient(
		kgo.SeedBrokers(kafkaAddr),
		kgo.ClientID("devstack-producer"),
		kgo.DefaultProduceTopic(cfg.Topic),
		kgo.DisableClientMetrics(),
	)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &producer{client: client, cfg: cfg, log: log, bursts: bursts, cancel: cancel}
	if cfg.Burst > 0 {
		p.done.Go(func() { p.run(ctx) })
	}
	return p, nil
}

func (p *producer) run(ctx context.Context) {
	if ctxsleep.Sleep(ctx, p.cfg.StartDelay) != nil {
		return
	}
	produced := 0
	for {
		produced += p.produceBurst(ctx, produced)
		if p.cfg.BurstEvery == 0 || ctxsleep.Sleep(ctx, p.cfg.BurstEvery) != nil {
			return
		}
	}
}

// produceBurst writes one burst and returns how many messages made it.
// Messages are keyed so they spread over every partition.
func (p *producer) produceBurst(ctx context.Context, producedBefore int) int {
	records := make([]*kgo.Record, p.cfg.Burst)
	for i := range records {
		order := producedBefore + i + 1
		records[i] = &kgo.Record{
			Key:   fmt.Appendf(nil, "order-%d", order),
			Value: fmt.Appendf(nil, `{"order":%d}`, order),
		}
	}
	produced := 0
	var firstErr error
	p.bursts.start()
	for _, result := range p.client.ProduceSync(ctx, records...) {
		if result.Err != nil {
			if firstErr == nil {
				firstErr = result.Err
			}
			continue
		}
		produced++
	}
	switch {
	case firstErr != nil && ctx.Err() == nil:
		p.log.printf("producer", "produced %d of %d messages to %s: %v", produced, len(records), p.cfg.Topic, firstErr)
	case firstErr == nil:
		p.log.printf("producer", "produced %d messages to %s (%d in total)", produced, p.cfg.Topic, producedBefore+produced)
	}
	return produced
}

func (p *producer) close() {
	p.cancel()
	p.done.Wait()
	p.client.Close()
}
