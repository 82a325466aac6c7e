package pendingage

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/kafkaread"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/offset"
)

// TestATopicsHistoryComesFromItsFirstBinding: the scrape hands the ager a
// topic's partitions with one binding only. The topic's other bindings,
// given their ranges alone, are dated from the same history, and one
// without partitions never stands for the topic's partitions.
func TestATopicsHistoryComesFromItsFirstBinding(t *testing.T) {
	a := New(false, false, nil, zap.NewNop())
	t0 := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	observe := func(at time.Time, end int64) []Age {
		read := offset.NewPartitions(1)
		read.Set(0, offset.Partition{HighWatermark: end, Committed: 0})
		pending := []offset.PartitionRange{{Partition: 0, Range: offset.Range{From: 5, To: end}, Pending: end - 5}}
		// The binding without partitions comes first: it must not stand
		// for the topic's partitions.
		return a.Ages(context.Background(), at, kafkaread.Layout{}, []Binding{
			{Topic: "orders", Ranges: pending, Aged: true},
			{Topic: "orders", Partitions: read, Ranges: pending, Aged: true},
		})
	}
	observe(t0, 0)
	observe(t0.Add(10*time.Second), 10)
	ages := observe(t0.Add(30*time.Second), 20)
	require.True(t, ages[1].Known)
	assert.Equal(t, ages[1], ages[0], "a binding without partitions is dated from the history the other fed")
	assert.Greater(t, ages[0].Seconds, 0.0)
}
