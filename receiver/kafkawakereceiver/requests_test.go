package kafkawakereceiver

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
)

func TestRequestsPerScrapeDoNotGrowWithBindingsOrPartitions(t *testing.T) {
	const brokers = 3
	budget := int64(3*brokers + 3)
	tests := []struct {
		name                         string
		topics, partitions, bindings int
	}{
		{"5 bindings on 5 topics of 1 partition", 5, 1, 5},
		{"120 bindings on 60 topics of 12 partitions", 60, 12, 120},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := kfake.NewCluster(kfake.NumBrokers(brokers), kfake.SeedTopics(int32(tt.partitions), topicNames(tt.topics)...))
			require.NoError(t, err)
			defer c.Close()
			bindings := seedWorkload(t, c, tt.topics, tt.bindings)
			s, _ := startScraperWith(t, func(cfg *Config) {
				cfg.Brokers = c.ListenAddrs()
				cfg.Bindings = bindings
			})
			// Warm up: connections, API versions, coordinators.
			for range 2 {
				_, err := s.scrape(t.Context())
				require.NoError(t, err)
			}
			rc := countRequests(c)
			const scrapes = 5
			for range scrapes {
				_, err := s.scrape(t.Context())
				require.NoError(t, err)
			}
			counts, total := rc.snapshot()
			t.Logf("requests over %d scrapes: %v", scrapes, counts)
			assert.LessOrEqual(t, total, scrapes*budget, "more than 3 × brokers + 3 requests per scrape: %v", counts)
			assert.LessOrEqual(t, counts["ListOffsets"], int64(scrapes*2*brokers))
			assert.LessOrEqual(t, counts["OffsetFetch"], int64(scrapes*brokers))
			assert.LessOrEqual(t, counts["Metadata"], int64(scrapes), "one Metadata request per scrape keeps partitions fresh")
		})
	}
}
