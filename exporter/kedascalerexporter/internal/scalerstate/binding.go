package scalerstate // import "github.com/kafkawake/kafkawake/exporter/kedascalerexporter/internal/scalerstate"

import "time"

// A series' interval is the longest gap between its points. It shrinks to
// the longest gap seen meanwhile only after a series has gone
// intervalsToShrink of its intervals, and at least shrinkWindow, without a
// gap that long: watch reports between collections, however many, do not
// shorten it (the collections stay at most an interval apart), while a
// shorter collection_interval is learnt after a while.
const (
	intervalsToShrink = 4
	shrinkWindow      = 5 * time.Minute
)

// series is the latest point of one value of a binding.
type series struct {
	seen  bool
	value float64
	// pointTime is the point's timestamp, received when it arrived here.
	pointTime, received time.Time
	// interval is the longest gap between consecutive point timestamps
	// since windowStart; windowMax the longest gap shorter than it.
	interval    time.Duration
	windowMax   time.Duration
	windowStart time.Time
}

func (s *series) record(value float64, pointTime, now time.Time) {
	if s.seen && pointTime.Before(s.pointTime) {
		return // an older point arriving late says nothing new
	}
	if s.seen && pointTime.After(s.pointTime) {
		s.observeGap(pointTime.Sub(s.pointTime), pointTime)
	}
	s.seen, s.value, s.pointTime, s.received = true, value, pointTime, now
}

func (s *series) observeGap(gap time.Duration, at time.Time) {
	if gap >= s.interval {
		s.interval, s.windowMax, s.windowStart = gap, 0, at
		return
	}
	s.windowMax = max(s.windowMax, gap)
	if at.Sub(s.windowStart) >= max(intervalsToShrink*s.interval, shrinkWindow) {
		s.interval, s.windowMax, s.windowStart = s.windowMax, 0, at
	}
}

// staleAt is when the series' value becomes unknown without a new point;
// zero while its interval is unknown (fewer than two points).
func (s *series) staleAt(staleAfter int) time.Time {
	if s.interval == 0 {
		return time.Time{}
	}
	return s.received.Add(time.Duration(staleAfter) * s.interval)
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
