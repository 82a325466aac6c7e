package kafkawakereceiver

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
)

func TestRequestsPerScrapeDoNotGrowWithBindingsOrPartitions(t *testing.T) {
	const brokers = 3
	// 3 × brokers + 3 for the offsets, one DescribeShareGroupOffsets per
	// share-group coordinator, and one describe per group coordinator per
	// group API in use for the members: the committed groups here are
	// classic groups without members, the others do not exist, so both
	// APIs are asked, and the share groups are described with theirs.
	budget := int64(3*brokers + 3 + brokers + 3*brokers)
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
			bindings := withShareBindings(seedWorkload(t, c, tt.topics, tt.bindings))
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
			assert.LessOrEqual(t, total, scrapes*budget, "more than 3 × brokers + 3 requests per scrape, and one describe per coordinator per group API: %v", counts)
			assert.LessOrEqual(t, counts["DescribeGroups"], int64(scrapes*brokers))
			assert.LessOrEqual(t, counts["ConsumerGroupDescribe"], int64(scrapes*brokers))
			assert.LessOrEqual(t, counts["ListOffsets"], int64(scrapes*2*brokers))
			assert.LessOrEqual(t, counts["OffsetFetch"], int64(scrapes*brokers))
			assert.LessOrEqual(t, counts["DescribeShareGroupOffsets"], int64(scrapes*brokers))
			assert.Positive(t, counts["DescribeShareGroupOffsets"], "the share bindings were read")
			assert.LessOrEqual(t, counts["ShareGroupDescribe"], int64(scrapes*brokers))
			assert.Zero(t, counts["DescribeConfigs"], "share.auto.offset.reset is read at most once a minute")
			assert.LessOrEqual(t, counts["Metadata"], int64(scrapes), "one Metadata request per scrape keeps partitions fresh")
		})
	}
}

// withShareBindings turns every third binding into a share-group binding.
func withShareBindings(bindings []BindingConfig) []BindingConfig {
	for i := range bindings {
		if i%3 == 1 {
			bindings[i].ShareGroup, bindings[i].ConsumerGroup = "share-"+bindings[i].ConsumerGroup, ""
		}
	}
	return bindings
}

// With every metric that needs the groups' members off, no group is
// described.
func TestNoDescribeForMetricsThatAreOff(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(2, topicNames(4)...))
	require.NoError(t, err)
	defer c.Close()
	bindings := seedWorkload(t, c, 4, 8)
	s, _ := startScraperWith(t, func(cfg *Config) {
		cfg.Brokers = c.ListenAddrs()
		cfg.Bindings = bindings
		cfg.Metrics.SlimfaaskafkaGroupMembers.Enabled = false
		cfg.Metrics.SlimfaaskafkaBindingStatus.Enabled = false
		cfg.Metrics.SlimfaaskafkaStalledPartitions.Enabled = false
	})
	rc := countRequests(c)
	for range 3 {
		md, err := s.scrape(t.Context())
		require.NoError(t, err)
		pts := pointsByFunction(t, md)
		assert.False(t, pts.has(membersName, bindings[0].Function))
		assert.False(t, pts.has(stalledName, bindings[0].Function))
	}
	counts, _ := rc.snapshot()
	assert.Zero(t, counts["DescribeGroups"]+counts["ConsumerGroupDescribe"], "%v", counts)
}
