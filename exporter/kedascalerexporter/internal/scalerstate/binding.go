package scalerstate // import "github.com/kafkawake/kafkawake/exporter/kedascalerexporter/internal/scalerstate"

import "time"

// gapsKept is how many gaps between a value's points its interval is the
// longest of: a watch report between two scrapes shortens one gap, not the
// interval.
const gapsKept = 4

// series is the latest point of one value of a binding.
type series struct {
	seen  bool
	value float64
	// pointTime is the point's timestamp, received when it arrived here.
	pointTime, received time.Time
	// gaps holds the last gaps between consecutive point timestamps.
	gaps [gapsKept]time.Duration
	next int
}

func (s *series) record(value float64, pointTime, now time.Time) {
	if s.seen && pointTime.After(s.pointTime) {
		s.gaps[s.next] = pointTime.Sub(s.pointTime)
		s.next = (s.next + 1) % gapsKept
	}
	if s.seen && pointTime.Before(s.pointTime) {
		return // an older point arriving late says nothing new
	}
	s.seen, s.value, s.pointTime, s.received = true, value, pointTime, now
}

// interval is the series' reporting interval, 0 until two points are known.
func (s *series) interval() time.Duration {
	var longest time.Duration
	for _, g := range s.gaps {
		longest = max(longest, g)
	}
	return longest
}

// staleAt is when the series' value becomes unknown without a new point;
// zero while its interval is unknown.
func (s *series) staleAt(staleAfter int) time.Time {
	interval := s.interval()
	if interval == 0 {
		return time.Time{}
	}
	return s.received.Add(time.Duration(staleAfter) * interval)
}

// binding is the store's memory of one binding.
type binding struct {
	key    BindingKey
	values [scaledKinds]series

	consumed      float64
	consumedStart time.Time
	consumedSeen  bool
	// consumedAt is when the consumed counter was last seen growing.
	consumedAt time.Time
	// lastActivity is the binding's last activity as its receiver reported it.
	lastActivity time.Time

	unreadable bool
	// statusTime is the timestamp of the latest status point.
	statusTime time.Time

	lastReceived time.Time
}

func (b *binding) record(p *Point, now time.Time) {
	b.lastReceived = now
	switch p.Kind {
	case Pending, Desired, Age:
		b.values[p.Kind].record(p.Value, p.Time, now)
	case Consumed:
		// A new start time is a restarted counter: a baseline, not growth.
		if b.consumedSeen && p.StartTime.Equal(b.consumedStart) && p.Value > b.consumed {
			b.consumedAt = now
		}
		b.consumed, b.consumedStart, b.consumedSeen = p.Value, p.StartTime, true
	case LastActivity:
		at := time.Unix(0, int64(p.Value*float64(time.Second)))
		if at.After(b.lastActivity) {
			b.lastActivity = at
		}
	case Status:
		if !p.Time.Before(b.statusTime) {
			b.unreadable, b.statusTime = p.Unreadable, p.Time
		}
	}
}

// activeUntil is when the binding's last consumption leaves the window.
func (b *binding) activeUntil(window time.Duration) time.Time {
	last := b.consumedAt
	if b.lastActivity.After(last) {
		last = b.lastActivity
	}
	if last.IsZero() {
		return time.Time{}
	}
	return last.Add(window)
}
