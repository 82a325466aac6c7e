// Command devstack plays Kafka, SlimFaas and one scaled-to-zero function on
// 127.0.0.1, so `make run` can show the whole kafkawake loop without
// installing either: messages arrive, the collector sees them pending and
// calls the wake endpoint, the woken function consumes and commits, and it
// scales back to zero once there is nothing left to read. With -share-group
// the function consumes a queue (a Kafka share group): a wake starts
// -workers instances that acquire and acknowledge records of the same
// partitions.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	var cfg config
	flag.StringVar(&cfg.KafkaAddr, "kafka-addr", "127.0.0.1:19092", "listen address of the fake Kafka broker")
	flag.StringVar(&cfg.Topic, "topic", "demo-orders", "topic created at start and produced to")
	flag.IntVar(&cfg.Partitions, "partitions", 3, "number of partitions of the topic")
	flag.StringVar(&cfg.WakeAddr, "wake-addr", "127.0.0.1:18080", "listen address of the fake SlimFaas wake API")
	flag.StringVar(&cfg.Function, "function", "demo-consumer", "the one function name the wake API knows")
	flag.StringVar(&cfg.Group, "group", "demo-group", "consumer group of the function")
	flag.StringVar(&cfg.ShareGroup, "share-group", "", "share group (a queue) the function's workers consume through instead of the consumer group")
	flag.IntVar(&cfg.Workers, "workers", 1, "instances a wake starts: with -share-group they all drain the same partitions")
	flag.DurationVar(&cfg.StartDelay, "start-delay", 5*time.Second, "wait before the first burst of messages")
	flag.IntVar(&cfg.Burst, "burst", 30, "messages per burst (0 produces nothing)")
	flag.DurationVar(&cfg.BurstEvery, "burst-every", 45*time.Second, "time between bursts (0 produces a single burst)")
	flag.DurationVar(&cfg.ProcessDelay, "process-delay", 100*time.Millisecond, "time the function spends on each message")
	flag.DurationVar(&cfg.IdleTimeout, "idle-timeout", 20*time.Second, "time with nothing to read before the function scales to zero")
	duration := flag.Duration("duration", 0, "stop after this long (0 runs until SIGINT or SIGTERM)")
	metricsURL := flag.String("metrics-url", "", "collector Prometheus endpoint whose kafkawake metrics are printed as they change (empty: none)")
	flag.Parse()

	if err := run(cfg, *duration, *metricsURL); err != nil {
		fmt.Fprintln(os.Stderr, "devstack:", err)
		os.Exit(1)
	}
}

func run(cfg config, duration time.Duration, metricsURL string) error {
	ctx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	if duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, duration, fmt.Errorf("-duration %s elapsed", duration))
		defer cancel()
	}

	s, err := startStack(cfg, os.Stdout)
	if err != nil {
		return err
	}
	if metricsURL != "" {
		go watchCollector(ctx, metricsURL, cfg.Function, s.log)
	}
	<-ctx.Done()
	s.log.printf("devstack", "stopping: %v", context.Cause(ctx))
	s.close()
	return nil
}
