package pendingage

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var tableEpoch = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// at is the table test clock: seconds after tableEpoch.
func at(seconds float64) time.Time {
	return tableEpoch.Add(time.Duration(seconds * float64(time.Second)))
}

type watermarkRead struct {
	hw      int64
	seconds float64
}

type dateLookup struct {
	offset  int64
	seconds float64 // when the record at offset was produced
	unknown bool
}

func TestWatermarkTableDatesOffsets(t *testing.T) {
	var steadyReads []watermarkRead
	for i := range watermarkTableSize + 10 {
		steadyReads = append(steadyReads, watermarkRead{hw: int64(10 * (i + 1)), seconds: float64(2 * i)})
	}
	tests := []struct {
		name    string
		reads   []watermarkRead
		lookups []dateLookup
	}{
		{
			name:  "interpolated between the points around the offset",
			reads: []watermarkRead{{10, 0}, {20, 10}},
			lookups: []dateLookup{
				{offset: 10, seconds: 1}, // the first record after the point at 10
				{offset: 14, seconds: 5},
				{offset: 19, seconds: 10}, // the last record below 20
			},
		},
		{
			name:  "an offset older than the table is dated at its first point, a lower bound",
			reads: []watermarkRead{{10, 0}, {20, 10}},
			lookups: []dateLookup{
				{offset: 0, seconds: 0},
				{offset: 9, seconds: 0},
			},
		},
		{
			name:    "a single point dates everything below it at that point",
			reads:   []watermarkRead{{10, 4}},
			lookups: []dateLookup{{offset: 3, seconds: 4}, {offset: 10, unknown: true}},
		},
		{
			name:    "an offset the table has not seen produced is unknown",
			reads:   []watermarkRead{{10, 0}, {20, 10}},
			lookups: []dateLookup{{offset: 20, unknown: true}, {offset: 25, unknown: true}},
		},
		{
			name:  "a flat run keeps its last point: the first record after it is dated after it",
			reads: []watermarkRead{{10, 0}, {10, 2}, {10, 4}, {10, 90}, {20, 100}},
			lookups: []dateLookup{
				{offset: 10, seconds: 91},
				{offset: 19, seconds: 100},
				{offset: 9, seconds: 0},
			},
		},
		{
			name:    "points out of order are rejected",
			reads:   []watermarkRead{{10, 0}, {20, 10}, {30, 10}, {40, 8}},
			lookups: []dateLookup{{offset: 14, seconds: 5}, {offset: 25, unknown: true}},
		},
		{
			name:  "a truncated partition restarts the table",
			reads: []watermarkRead{{10, 0}, {20, 10}, {15, 12}, {25, 22}},
			lookups: []dateLookup{
				{offset: 14, seconds: 12}, // dated at the first point after the truncation
				{offset: 19, seconds: 17},
			},
		},
		{
			name:  "a full table keeps its first point and thins older ones",
			reads: steadyReads,
			lookups: []dateLookup{
				// The first point (10, 0) stays; steady production
				// interpolates exactly across the thinned stretches.
				{offset: 0, seconds: 0},
				{offset: 109, seconds: 20},
				{offset: 114, seconds: 21},
				{offset: 699, seconds: 138},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var table watermarkTable
			for _, r := range tt.reads {
				table.add(r.hw, at(r.seconds))
			}
			require.LessOrEqual(t, table.len(), watermarkTableSize)
			for _, l := range tt.lookups {
				got, ok := table.producedAt(l.offset)
				if l.unknown {
					assert.False(t, ok, "offset %d dated %v", l.offset, got)
					continue
				}
				require.True(t, ok, "offset %d", l.offset)
				assert.WithinDuration(t, at(l.seconds), got, time.Millisecond, "offset %d", l.offset)
			}
		})
	}
}

func TestWatermarkTableStaysBounded(t *testing.T) {
	var table watermarkTable
	for i := range 10 * watermarkTableSize {
		// Alternate moves and flat runs, the worst case for compression.
		table.add(int64(i/3), at(float64(i)))
	}
	assert.Equal(t, watermarkTableSize, table.len())
	for i := 1; i < table.len(); i++ {
		prev, cur := table.at(i-1), table.at(i)
		assert.Less(t, prev.at, cur.at, fmt.Sprintf("point %d", i))
		assert.LessOrEqual(t, prev.offset, cur.offset, fmt.Sprintf("point %d", i))
	}
}

// The estimate spans a time, not a count of scrapes: at a 1 s interval a
// backlog of 90 s, or of two hours, is dated within a few intervals while
// the partition keeps receiving messages and the group stays behind.
func TestWatermarkTableDatesBacklogsOlderThanItsPoints(t *testing.T) {
	for _, backlog := range []time.Duration{90 * time.Second, 2 * time.Hour} {
		t.Run(backlog.String(), func(t *testing.T) {
			var table watermarkTable
			const perSecond = 7
			seconds := int(backlog/time.Second) + 30
			for s := range seconds {
				table.add(int64(perSecond*(s+1)), at(float64(s)))
				require.LessOrEqual(t, table.len(), watermarkTableSize)
			}
			// The group stopped reading `backlog` ago: its first pending
			// record was produced then.
			now := float64(seconds - 1)
			stoppedAt := now - backlog.Seconds()
			first := int64(perSecond * stoppedAt)
			got, ok := table.producedAt(first)
			require.True(t, ok)
			assert.InDelta(t, backlog.Seconds(), at(now).Sub(got).Seconds(), 3, "age of the oldest pending record")
		})
	}
}
