package kafkawakereceiver

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/coordination"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/metadata"
)

// BenchmarkSharedScrape measures one replica's steady-state scrape when
// 3,000 bindings (200 topics of 12 partitions on 3 brokers) are observed by
// one replica alone, and by one of three replicas sharing them with the
// leader's assignment. It reports the Kafka requests per scrape and the
// bindings the replica observes.
func BenchmarkSharedScrape(b *testing.B) {
	const brokers, topics, partitions, bindings = 3, 200, 12, 3000
	c, err := kfake.NewCluster(kfake.NumBrokers(brokers), kfake.SeedTopics(partitions, topicNames(topics)...),
		kfake.WithLogger(kfake.BasicLogger(nil, kfake.LogLevelNone)))
	require.NoError(b, err)
	defer c.Close()
	configured := seedWorkload(b, c, topics, bindings)

	for _, replicas := range []int{1, 3} {
		b.Run(fmt.Sprintf("replicas=%d", replicas), func(b *testing.B) {
			cfg := createDefaultConfig().(*Config)
			cfg.Brokers = c.ListenAddrs()
			cfg.Bindings = configured
			require.NoError(b, cfg.Validate())
			s := newKafkaScraper(cfg, receivertest.NewNopSettings(metadata.Type))
			share := shareOfFirstReplica(configured, replicas)
			s.owner = &settableOwner{indexes: share}
			benchmarkScrapes(b, c, s)
			b.ReportMetric(float64(len(share)), "bindings/replica")
		})
	}
}

// shareOfFirstReplica is what the group's leader assigns to the first of
// `replicas` members all configured with bindings.
func shareOfFirstReplica(bindings []BindingConfig, replicas int) []int {
	ids := make([]coordination.BindingID, len(bindings))
	indexOf := map[coordination.BindingID]int{}
	for i, b := range bindings {
		ids[i] = coordination.IDOf(b.String())
		indexOf[ids[i]] = i
	}
	members := make([]coordination.MemberBindings, replicas)
	for i := range members {
		members[i] = coordination.MemberBindings{MemberID: fmt.Sprintf("replica-%d", i), Bindings: ids}
	}
	assignment, _ := coordination.Assign(members)
	var share []int
	for _, id := range assignment["replica-0"] {
		share = append(share, indexOf[id])
	}
	slices.Sort(share)
	return share
}
