package kafkawakereceiver

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/metadata"
)

// BenchmarkScrape measures one steady-state scrape of 200 bindings on 200
// topics of 12 partitions on 3 brokers, with the receiver's default client
// settings. Besides ns/op and allocs/op it reports the Kafka requests per
// scrape counted on the server.
func BenchmarkScrape(b *testing.B) {
	benchmarkScrape(b, func(*Config) {})
}

// BenchmarkScrapeWithShareBindings is BenchmarkScrape with every third
// binding reading through a share group: the requests per scrape grow by
// one DescribeShareGroupOffsets and one ShareGroupDescribe per coordinator,
// not per binding.
func BenchmarkScrapeWithShareBindings(b *testing.B) {
	benchmarkScrape(b, func(cfg *Config) { cfg.Bindings = withShareBindings(cfg.Bindings) })
}

// benchmarkScrape runs BenchmarkScrape's workload on a configuration that
// configure adjusts.
func benchmarkScrape(b *testing.B, configure func(*Config)) map[string]int64 {
	const brokers, topics, partitions, bindings = 3, 200, 12, 200
	c, err := kfake.NewCluster(kfake.NumBrokers(brokers), kfake.SeedTopics(partitions, topicNames(topics)...),
		kfake.WithLogger(kfake.BasicLogger(nil, kfake.LogLevelNone)))
	require.NoError(b, err)
	defer c.Close()

	cfg := createDefaultConfig().(*Config)
	cfg.Brokers = c.ListenAddrs()
	cfg.Bindings = seedWorkload(b, c, topics, bindings)
	configure(cfg)
	require.NoError(b, cfg.Validate())
	s := newKafkaScraper(cfg, receivertest.NewNopSettings(metadata.Type))
	return benchmarkScrapes(b, c, s)
}

// benchmarkScrapes starts s and measures its steady-state scrapes, with the
// Kafka requests per scrape counted on the server; it returns the requests
// counted over the measured scrapes by API name.
func benchmarkScrapes(b *testing.B, c *kfake.Cluster, s *kafkaScraper) map[string]int64 {
	require.NoError(b, s.start(context.Background(), componenttest.NewNopHost()))
	defer func() { require.NoError(b, s.shutdown(context.Background())) }()
	for range 2 { // warm connections, versions and coordinators
		_, err := s.scrape(b.Context())
		require.NoError(b, err)
	}

	rc := countRequests(c)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.scrape(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	counts, total := rc.snapshot()
	b.ReportMetric(float64(total)/float64(b.N), "requests/scrape")
	return counts
}
