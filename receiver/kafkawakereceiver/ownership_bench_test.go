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
// leader's assignment, reporting every binding (report: all) or only its
// share (report: owned). It reports the Kafka requests per scrape and the
// bindings the replica observes.
func BenchmarkSharedScrape(b *testing.B) {
	const brokers, topics, partitions, bindings = 3, 200, 12, 3000
	c, err := kfake.NewCluster(kfake.NumBrokers(brokers), kfake.SeedTopics(partitions, topicNames(topics)...),
		kfake.WithLogger(kfake.BasicLogger(nil, kfake.LogLevelNone)))
	require.NoError(b, err)
	defer c.Close()
	configured := seedWorkload(b, c, topics, bindings)

	for _, run := range []struct {
		replicas int
		report   ReportScope
	}{{1, ReportAll}, {3, ReportOwned}, {3, ReportAll}} {
		b.Run(fmt.Sprintf("replicas=%d/report=%s", run.replicas, run.report), func(b *testing.B) {
			cfg := createDefaultConfig().(*Config)
			cfg.Brokers = c.ListenAddrs()
			cfg.Bindings = configured
			require.NoError(b, cfg.Validate())
			s := newKafkaScraper(cfg, receivertest.NewNopSettings(metadata.Type))
			share := shareOfFirstReplica(configured, run.replicas)
			s.owner, s.observeAll = &settableOwner{indexes: share}, run.report == ReportAll
			benchmarkScrapes(b, c, s)
			observed := len(share)
			if s.observeAll {
				observed = len(configured)
			}
			b.ReportMetric(float64(observed), "bindings/replica")
		})
	}
}

// shareOfFirstReplica is what the group's leader assigns to the first of
// `replicas` members all configured with bindings.
func shareOfFirstReplica(bindings []BindingConfig, replicas int) []int {
	ids := make([]coordination.Binding, len(bindings))
	indexOf := map[coordination.BindingID]int{}
	for i, b := range bindings {
		ids[i] = coordination.Binding{ID: coordination.IDOf(b.String()), Function: coordination.FunctionIDOf(b.Function)}
		indexOf[ids[i].ID] = i
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
