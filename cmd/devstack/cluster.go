package main

import (
	"net"

	"github.com/twmb/franz-go/pkg/kfake"
)

// startCluster starts a one-broker in-process Kafka with the demo topic. The
// topic is seeded rather than auto-created, as a real cluster with auto
// creation off would need it.
func startCluster(cfg config) (*kfake.Cluster, error) {
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		// kfake picks 127.0.0.1 and a port itself; listening on the
		// configured address instead keeps the flag's host and lets
		// tests ask for port 0.
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			return net.Listen(network, cfg.KafkaAddr)
		}),
		kfake.SeedTopics(int32(cfg.Partitions), cfg.Topic),
	)
	if err == nil && cfg.ShareGroup != "" {
		// The first wake comes after the first burst: a share group
		// starting at latest would never see it.
		c.SetGroupConfigs(cfg.ShareGroup, map[string]string{"share.auto.offset.reset": "earliest"})
	}
	return c, err
}
