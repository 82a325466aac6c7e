//go:build e2e

package e2e

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kafkawake/kafkawake/internal/childprocess"
	"github.com/kafkawake/kafkawake/internal/collectortest"
)

// collectorBinary is the collector under test, built by `make test-e2e`.
func collectorBinary(t *testing.T) string {
	t.Helper()
	binary := os.Getenv("KAFKAWAKE_COLLECTOR")
	if binary == "" {
		t.Fatal("KAFKAWAKE_COLLECTOR is not set: run these tests with `make test-e2e`, which builds the collector")
	}
	return binary
}

// newOrdersCluster starts a kfake cluster of brokers brokers with the topic
// "orders" of partitions partitions, closed when the test ends.
func newOrdersCluster(t *testing.T, brokers int, partitions int32) *kfake.Cluster {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(brokers), kfake.SeedTopics(partitions, "orders"))
	require.NoError(t, err)
	t.Cleanup(cluster.Close)
	return cluster
}

// startCollector starts the collector on config and stops it when the test
// ends, expecting a clean exit. metricsPort is the Prometheus exporter's
// port used in config.
func startCollector(t *testing.T, config string, metricsPort int) *collectortest.Collector {
	t.Helper()
	c, err := collectortest.Start(collectorBinary(t), t.TempDir(), config, metricsPort)
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := c.Stop(15 * time.Second); err != nil && !errors.Is(err, childprocess.ErrAlreadyExited) {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("collector output:\n%s", c.Output())
		}
	})
	return c
}

func freePort(t *testing.T) int {
	t.Helper()
	port, err := childprocess.FreePort()
	require.NoError(t, err)
	return port
}
