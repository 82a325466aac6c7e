package kafkawakereceiver

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkawake/kafkawake/internal/kafkatest"
	schema "github.com/kafkawake/kafkawake/internal/metadata"
)

var ownedName = schema.MetricsInfo.SlimfaaskafkaBindingOwned.Name

// With report: all a replica observes every binding whoever owns it, marks
// the ones it owns, and a binding that moves in keeps its history: no
// baseline gap, no memory reset.
func TestReportAllObservesEveryBindingAndKeepsHistoryAcrossMoves(t *testing.T) {
	c, s, clock := startThreePendingBindings(t)
	require.True(t, s.observeAll)
	owner := &settableOwner{}
	owner.set([]int{}...) // another replica owns every binding
	s.owner = owner

	pts := scrapeOK(t, c, s)
	for _, fn := range []string{"f0", "f1", "f2"} {
		assert.Equal(t, int64(8), pts.intValue(t, pendingName, fn), "no assignment yet, every binding is still observed")
		assert.Equal(t, int64(0), pts.intValue(t, ownedName, fn))
	}
	assert.Equal(t, []string{"g0", "g1", "g2"}, s.scope.groups, "every binding's group is read")

	// f1 consumes while another replica owns it; then it moves here.
	c.Commit("g1", "orders", 0, 5)
	clock.Advance(2 * time.Second)
	pts = scrapeOK(t, c, s)
	assert.Equal(t, int64(3), pts.intValue(t, consumedName, "f1"), "consumption is counted on a binding this replica does not own")
	assert.True(t, pts.has(lastActivityName, "f1"))

	owner.set(1)
	assert.Equal(t, []int{1}, s.movedInBindings(), "a binding new to the share is reported early")
	c.Commit("g1", "orders", 0, 7)
	clock.Advance(2 * time.Second)
	pts = scrapeOK(t, c, s)
	assert.Equal(t, int64(5), pts.intValue(t, consumedName, "f1"), "a move is no baseline: the count goes on")
	assert.Equal(t, int64(1), pts.intValue(t, ownedName, "f1"))
	assert.Equal(t, int64(0), pts.intValue(t, ownedName, "f0"))

	// It moves out again: still observed, no longer owned, history kept.
	owner.set([]int{}...)
	c.Commit("g1", "orders", 0, 8)
	clock.Advance(2 * time.Second)
	pts = scrapeOK(t, c, s)
	assert.Equal(t, int64(6), pts.intValue(t, consumedName, "f1"))
	assert.Equal(t, int64(0), pts.intValue(t, ownedName, "f1"))

	// Fenced, this replica knows of no owner: it still exports every
	// binding, without saying who owns it, so its processor neither wakes
	// nor mirrors a wake.
	owner.set()
	pts = scrapeOK(t, c, s)
	assert.True(t, pts.has(pendingName, "f1"))
	assert.False(t, pts.has(ownedName, "f1"))
}

// Ownership is decided when the points are made, after the reads: a replica
// that loses a binding while its reads are in flight reports it as not
// owned, so no wake follows from that scrape.
func TestOwnershipIsDecidedAfterTheReads(t *testing.T) {
	for _, report := range []ReportScope{ReportAll, ReportOwned} {
		t.Run(string(report), func(t *testing.T) {
			c := kafkatest.New(t, kfake.SeedTopics(1, "orders"))
			c.Produce("orders", 0, 4)
			s, _ := startScraper(t, c.Kfake.ListenAddrs(), OffsetResetEarliest,
				BindingConfig{Topic: "orders", ConsumerGroup: "g0", Function: "f0"})
			owner := &settableOwner{}
			owner.set(0)
			s.owner, s.observeAll = owner, report == ReportAll
			pts := scrapeOK(t, c, s)
			require.Equal(t, int64(1), pts.intValue(t, ownedName, "f0"))

			// The share is lost while ListOffsets is being answered.
			c.Kfake.ControlKey(int16(kmsg.ListOffsets), func(kmsg.Request) (kmsg.Response, error, bool) {
				owner.set([]int{}...)
				return nil, nil, false
			})
			pts = scrapeOK(t, c, s)
			assert.Equal(t, int64(4), pts.intValue(t, pendingName, "f0"))
			assert.Equal(t, int64(0), pts.intValue(t, ownedName, "f0"), "ownership read after the reads, not at the scrape's start")
		})
	}
}

// Two replicas with report: all each export every binding, and each binding
// is owned by exactly one of them.
func TestReplicasReportingAllEachAnswerForEveryBinding(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(1, "orders"))
	c.Produce("orders", 0, 3)
	bindings := numberedBindings(12)
	start := func() *kafkaScraper {
		s := startCoordinatedScraper(t, c, bindings, ReportAll)
		t.Cleanup(func() { require.NoError(t, s.shutdown(context.Background())) })
		return s
	}
	a, b := start(), start()
	require.Eventually(t, func() bool {
		pa, pb := scrapeOK(t, c, a), scrapeOK(t, c, b)
		ownedA, ownedB := 0, 0
		for _, bc := range bindings {
			fn := bc.Function
			if !pa.has(pendingName, fn) || !pb.has(pendingName, fn) || !pa.has(ownedName, fn) || !pb.has(ownedName, fn) {
				return false
			}
			oa, ob := pa.intValue(t, ownedName, fn), pb.intValue(t, ownedName, fn)
			if oa+ob != 1 {
				return false
			}
			ownedA += int(oa)
			ownedB += int(ob)
		}
		return ownedA > 0 && ownedB > 0
	}, 20*time.Second, 50*time.Millisecond, "both replicas export all 12 bindings, each owned by exactly one")
}
