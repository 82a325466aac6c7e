package pendingage

import (
	"math"
	"time"
)

// watermarkTableSize bounds the points kept per partition. A point is 16
// bytes, so a full table holds about 1 KiB. The table spans a time, not a
// count of scrapes: once full, it drops an older point where its
// neighbours are closest, so the newest points keep the scrapes' resolution
// and older ones get coarser, while the first point stays. Stretches
// without new messages cost two points however long they last.
const watermarkTableSize = 60

// recentPoints are the newest points, never dropped to make room.
const recentPoints = watermarkTableSize / 2

// watermarkPoint says that the partition's high watermark was offset at
// time at (Unix nanoseconds): every record below offset existed by then.
type watermarkPoint struct {
	offset int64
	at     int64
}

// watermarkTable dates offsets of one partition from the high watermarks the
// receiver read, the way kafka-lag-exporter estimates time lag without
// reading records. Offsets never decrease along the table, oldest first.
type watermarkTable struct {
	points []watermarkPoint
}

func (t *watermarkTable) len() int { return len(t.points) }

// at returns the i-th point, oldest first.
func (t *watermarkTable) at(i int) *watermarkPoint { return &t.points[i] }

// add records that the high watermark was hw at time at.
func (t *watermarkTable) add(hw int64, at time.Time) {
	p := watermarkPoint{offset: hw, at: at.UnixNano()}
	n := t.len()
	if n == 0 {
		// The table grows as points come: a partition without new messages
		// keeps two points for ever, so reserving the full size up front
		// would cost 1 KiB for each idle partition.
		t.points = append(t.points, p)
		return
	}
	last := t.at(n - 1)
	switch {
	case p.at <= last.at:
		// The same scrape seen twice, or a clock stepping back.
		return
	case hw < last.offset:
		// Truncated or re-created partition: the old points date records
		// that are gone.
		t.points = append(t.points[:0], p)
		return
	case hw == last.offset && n >= 2 && t.at(n-2).offset == hw:
		// A flat run keeps its first and last points, so the first record
		// after a long idle stretch is dated after it, not across it.
		last.at = p.at
		return
	}
	if n == watermarkTableSize {
		t.thin()
	}
	t.points = append(t.points, p)
}

// thin drops the older point whose neighbours are closest in time: the
// densest stretch loses resolution first, the first point and the newest
// ones stay.
func (t *watermarkTable) thin() {
	drop, closest := 1, int64(math.MaxInt64)
	for i := 1; i < len(t.points)-recentPoints; i++ {
		if gap := t.points[i+1].at - t.points[i-1].at; gap < closest {
			drop, closest = i, gap
		}
	}
	t.points = append(t.points[:drop], t.points[drop+1:]...)
}

// producedAt estimates when the record at offset was produced: when the
// high watermark first passed it, interpolated linearly between the two
// points around it. An offset the table's first point already covers is
// dated at that point, which makes its age a lower bound. ok is false when
// the table has not seen the offset produced.
func (t *watermarkTable) producedAt(offset int64) (at time.Time, ok bool) {
	// The high watermark passes offset when it reaches offset+1.
	target := offset + 1
	n := t.len()
	// i is the first point whose high watermark reaches target.
	i, j := 0, n
	for i < j {
		mid := int(uint(i+j) >> 1)
		if t.at(mid).offset < target {
			i = mid + 1
		} else {
			j = mid
		}
	}
	switch {
	case i == n:
		return time.Time{}, false
	case i == 0:
		return time.Unix(0, t.at(0).at), true
	}
	before, after := t.at(i-1), t.at(i)
	share := float64(target-before.offset) / float64(after.offset-before.offset)
	return time.Unix(0, before.at+int64(share*float64(after.at-before.at))), true
}
