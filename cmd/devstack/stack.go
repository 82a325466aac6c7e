package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// config describes the pretend world. Tests use "127.0.0.1:0" addresses and
// short durations.
type config struct {
	KafkaAddr    string
	Topic        string
	Partitions   int
	WakeAddr     string
	Function     string
	Group        string
	ShareGroup   string
	Workers      int
	StartDelay   time.Duration
	Burst        int
	BurstEvery   time.Duration
	ProcessDelay time.Duration
	IdleTimeout  time.Duration
}

// groupName says which group the function consumes through.
func (c config) groupName() string {
	if c.ShareGroup != "" {
		return fmt.Sprintf("share group %s, %d workers per wake", c.ShareGroup, c.Workers)
	}
	return "group " + c.Group
}

func (c config) validate() error {
	switch {
	case c.Topic == "", c.Function == "", c.Group == "":
		return errors.New("topic, function and group must not be empty")
	case c.Workers < 1:
		return errors.New("workers must be at least 1")
	case c.Workers > 1 && c.ShareGroup == "":
		return errors.New("several workers need -share-group: a consumer group gives each partition to one member only")
	case c.Partitions < 1:
		return errors.New("partitions must be at least 1")
	case c.Burst < 0:
		return errors.New("burst must not be negative")
	case c.StartDelay < 0, c.BurstEvery < 0, c.ProcessDelay < 0:
		return errors.New("start-delay, burst-every and process-delay must not be negative")
	case c.IdleTimeout <= 0:
		return errors.New("idle-timeout must be positive")
	}
	return nil
}

// stack runs the fake Kafka cluster, the producer, the fake SlimFaas wake API
// and the function it wakes.
type stack struct {
	log        *console
	cluster    *kfake.Cluster
	function   *function
	wakeServer *http.Server
	wakeAddr   net.Addr
	serving    sync.WaitGroup
	producer   *producer
}

// startStack starts everything but the function, which only a wake starts.
func startStack(cfg config, out io.Writer) (*stack, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &stack{log: &console{out: out}}
	bursts := &burstClock{}

	var err error
	if s.cluster, err = startCluster(cfg); err != nil {
		return nil, fmt.Errorf("starting the fake Kafka cluster: %w", err)
	}
	s.log.printf("kafka", "broker on %s, topic %s with %d partitions (auto topic creation off)",
		s.kafkaAddr(), cfg.Topic, cfg.Partitions)

	s.function = newFunction(cfg, s.kafkaAddr(), s.log)

	wakeListener, err := net.Listen("tcp", cfg.WakeAddr)
	if err != nil {
		s.close()
		return nil, fmt.Errorf("listening for wakes: %w", err)
	}
	s.wakeAddr = wakeListener.Addr()
	s.wakeServer = &http.Server{
		Handler:           newWakeHandler(s.function, s.log, bursts),
		ReadHeaderTimeout: 5 * time.Second,
	}
	s.serving.Go(func() {
		if err := s.wakeServer.Serve(wakeListener); !errors.Is(err, http.ErrServerClosed) {
			s.log.printf("slimfaas", "wake API stopped: %v", err)
		}
	})
	s.log.printf("slimfaas", "wake API on http://%s/wake-function/{functionName}; %s is scaled to zero (%s)",
		s.wakeAddr, cfg.Function, cfg.groupName())

	if s.producer, err = startProducer(cfg, s.kafkaAddr(), s.log, bursts); err != nil {
		s.close()
		return nil, fmt.Errorf("starting the producer: %w", err)
	}
	return s, nil
}

func (s *stack) kafkaAddr() string { return s.cluster.ListenAddrs()[0] }

func (s *stack) wakeURL(functionName string) string {
	return "http://" + s.wakeAddr.String() + "/wake-function/" + functionName
}

// close stops the parts in an order where nothing talks to a part already
// gone: no wake can arrive once the function stops, and the clients leave
// their group before the cluster goes away.
func (s *stack) close() {
	if s.wakeServer != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := s.wakeServer.Shutdown(ctx); err != nil {
			s.wakeServer.Close()
		}
		cancel()
		s.serving.Wait()
	}
	if s.producer != nil {
		s.producer.close()
	}
	if s.function != nil {
		s.function.close()
	}
	if s.cluster != nil {
		s.cluster.Close()
		s.log.printf("kafka", "broker stopped")
	}
}

// console prints one line per event, prefixed by time and role, so the
// interleaved output of the pretend services stays readable.
type console struct {
	mu  sync.Mutex
	out io.Writer
}

func (c *console) printf(role, format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.out, "%s [%s] %s\n", time.Now().Format("15:04:05.000"), role, line)
}
