package kafkawakereceiver

import (
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
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

// The committed offsets are read from the coordinators directly: the
// client's sharding would look every answer's topics up in its metadata
// cache and fetch the missing ones into it, a copy of every partition's
// replicas. The coordinators are found once and remembered.
func TestCommitsAreReadWithoutFillingTheClientsMetadataCache(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(4, topicNames(3)...))
	require.NoError(t, err)
	defer c.Close()
	bindings := seedWorkload(t, c, 3, 6)
	// Metadata requests that name topics: the scrape's own, and the
	// client's lookups for its cache. Its lookups of brokers name none.
	var topicMetadata atomic.Int64
	c.ControlKey(int16(kmsg.Metadata), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if len(req.(*kmsg.MetadataRequest).Topics) > 0 {
			topicMetadata.Add(1)
		}
		return nil, nil, false
	})
	s, _ := startScraperWith(t, func(cfg *Config) {
		cfg.Brokers = c.ListenAddrs()
		cfg.Bindings = bindings
	})
	scrape := func() {
		md, err := s.scrape(t.Context())
		require.NoError(t, err)
		require.Positive(t, md.DataPointCount())
	}
	scrape()
	rc := countRequests(c)
	const scrapes = 4
	for range scrapes {
		scrape()
	}
	counts, _ := rc.snapshot()
	assert.Equal(t, int64(1+scrapes), topicMetadata.Load(), "Metadata requests naming topics: the scrapes' own only")
	assert.Zero(t, counts["FindCoordinator"], "the coordinators are remembered: %v", counts)
	assert.LessOrEqual(t, counts["OffsetFetch"], int64(scrapes*3), "one OffsetFetch per coordinator: %v", counts)
}
