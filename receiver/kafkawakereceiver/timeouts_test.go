package kafkawakereceiver

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkawake/kafkawake/internal/kafkatest"
)

func TestSlowBrokerRespectsTimeout(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(3, "events"))
	c.Produce("events", 0, 5)
	s, _ := startScraper(t, c.Kfake.ListenAddrs(), OffsetResetEarliest,
		BindingConfig{Topic: "events", ConsumerGroup: "g", Function: "f"})
	scrapeOK(t, c, s) // warm metadata and connections

	// Every ListOffsets stalls until released, well past the scrape's deadline.
	var stalling atomic.Bool
	stalling.Store(true)
	release := make(chan struct{})
	c.Kfake.ControlKey(int16(kmsg.ListOffsets), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.Kfake.KeepControl()
		if stalling.Load() {
			c.Kfake.SleepControl(func() { <-release })
		}
		return nil, nil, false
	})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	md, err := s.scrape(ctx)
	require.Error(t, err)
	assert.ErrorContains(t, err, context.DeadlineExceeded.Error())
	assert.ErrorContains(t, err, `binding topic "events"`)
	assert.False(t, pointsByFunction(t, md).has(pendingName, "f"), "a timed-out read must not be reported as 0")

	// The broker recovers: the next scrape is right.
	stalling.Store(false)
	close(release)
	assert.Equal(t, int64(5), scrapeOK(t, c, s).intValue(t, pendingName, "f"))
}

func TestSlowCoordinatorDelaysOnlyItsGroups(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(2, "fast-orders", "slow-orders"))
	const slowNode, fastNode = 0, 1
	// The fast binding's partitions and group live away from the slow
	// coordinator; the slow binding's partitions do not matter.
	placePartitions(t, c.Kfake, "fast-orders", fastNode, 2)
	fastGroup := groupCoordinatedBy(t, c.Kfake, "fast", fastNode)
	slowGroup := groupCoordinatedBy(t, c.Kfake, "slow", slowNode)
	c.Produce("fast-orders", 0, 7)
	c.Produce("slow-orders", 1, 9)
	c.Commit(fastGroup, "fast-orders", 0, 2)
	c.Commit(slowGroup, "slow-orders", 1, 1)
	s, _ := startScraper(t, c.Kfake.ListenAddrs(), OffsetResetEarliest,
		BindingConfig{Topic: "fast-orders", ConsumerGroup: fastGroup, Function: "fast"},
		BindingConfig{Topic: "slow-orders", ConsumerGroup: slowGroup, Function: "slow"})
	pts := scrapeOK(t, c, s)
	assert.Equal(t, int64(8), pts.intValue(t, pendingName, "slow"))

	stalled := stallRequests(t, c.Kfake, kmsg.OffsetFetch, slowNode, func(req kmsg.Request) bool {
		return slices.ContainsFunc(req.(*kmsg.OffsetFetchRequest).Groups, func(g kmsg.OffsetFetchRequestGroup) bool { return g.Group == slowGroup })
	})
	pts, err := scrapeWithin(t, s, stallTimeout)
	require.Error(t, err)
	assert.ErrorContains(t, err, fmt.Sprintf(`reading committed offsets of group %q from coordinator broker %d (%s)`, slowGroup, slowNode, c.Kfake.ListenAddrs()[slowNode]))
	assert.False(t, pts.has(pendingName, "slow"))
	assert.Equal(t, int64(5), pts.intValue(t, pendingName, "fast"), "the other group is reported in the same scrape")
	assert.Positive(t, stalled.stalled.Load())

	// A coordinator that did not answer in time is found again, in case
	// the group moved.
	findings := c.CountCoordinatorLookups(slowGroup)
	stalled.end()
	assert.Equal(t, int64(8), scrapeOK(t, c, s).intValue(t, pendingName, "slow"))
	assert.Positive(t, findings.Load(), "the slow group's coordinator was looked up again")
}
