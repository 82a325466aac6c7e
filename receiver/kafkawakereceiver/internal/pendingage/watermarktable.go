package pendingage

import "time"

// watermarkTableSize bounds the points kept per partition. A point is 16
// bytes, so a full table holds about 1 KiB. A partition whose high watermark
// moves at every scrape is covered for 60 scrapes (2 minutes at the default
// collection interval); stretches without new messages cost two points
// however long they last.
const watermarkTableSize = 60

// watermarkPoint says that the partition's high watermark was offset at
// time at (Unix nanoseconds): every record below offset existed by then.
type watermarkPoint struct {
	offset int64
	at     int64
}

// watermarkTable dates offsets of one partition from the high watermarks the
// receiver read, the way kafka-lag-exporter estimates time lag without
// reading records. Offsets never decrease along the table. Once full it is a
// ring, so that adding a point touches one point, not the whole table.
type watermarkTable struct {
	points []watermarkPoint
	oldest int // index of the oldest point once the table is full, else 0
}

func (t *watermarkTable) len() int { return len(t.points) }

// at returns the i-th point, oldest first.
func (t *watermarkTable) at(i int) *watermarkPoint {
	if i += t.oldest; i >= len(t.points) {
		i -= len(t.points)
	}
	return &t.points[i]
}

// add records that the high watermark was hw at time at.
func (t *watermarkTable) add(hw int64, at time.Time) {
	p := watermarkPoint{offset: hw, at: at.UnixNano()}
	n := t.len()
	if n == 0 {
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
		t.points, t.oldest = append(t.points[:0], p), 0
		return
	case hw == last.offset && n >= 2 && t.at(n-2).offset == hw:
		// A flat run keeps its first and last points, so the first record
		// after a long idle stretch is dated after it, not across it.
		last.at = p.at
		return
	}
	if n < watermarkTableSize {
		t.points = append(t.points, p)
		return
	}
	t.points[t.oldest] = p
	t.oldest = (t.oldest + 1) % n
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
