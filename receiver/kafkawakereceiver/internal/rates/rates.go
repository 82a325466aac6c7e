// Package rates keeps a short history of a binding's cumulative produced and
// consumed counts, so that the produce and consume rates over a window can
// be read at every observation without keeping every observation.
package rates // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/rates"

import "time"

// Slots bounds the samples a History keeps: at most Slots+2 (24 bytes each),
// whatever the window and the collection interval.
const Slots = 16

// sample is one observation's cumulative counts at Unix nanoseconds at.
type sample struct {
	at                 int64
	produced, consumed int64
}

// History holds a binding's samples over one window. Samples are kept at
// least window/Slots apart (the newest one excepted), plus the newest sample
// at or before the window's start, so that a rate spans the whole window as
// soon as the binding has been observed that long.
type History struct {
	window  int64
	samples []sample // oldest first
}

// New returns an empty history over window.
func New(window time.Duration) *History {
	return &History{window: int64(window), samples: make([]sample, 0, Slots+2)}
}

// Add records the cumulative counts observed at time at. A time at or
// before the newest sample's is ignored (the same observation seen twice, or
// a clock stepping back), so that a rate never divides by zero or by a
// negative time.
func (h *History) Add(at time.Time, produced, consumed int64) {
	s := sample{at: at.UnixNano(), produced: produced, consumed: consumed}
	n := len(h.samples)
	if n > 0 && s.at <= h.samples[n-1].at {
		return
	}
	// The newest sample is replaced rather than kept when it is closer than
	// a slot to the one before it: the slots keep their spacing and the
	// history its bound.
	if n >= 2 && h.samples[n-1].at-h.samples[n-2].at < h.window/Slots {
		h.samples[n-1] = s
	} else {
		h.samples = append(h.samples, s)
	}
	h.dropBefore(s.at - h.window)
}

// dropBefore forgets the samples older than the newest one at or before
// start: that one anchors the window.
func (h *History) dropBefore(start int64) {
	anchor := 0
	for i, s := range h.samples {
		if s.at > start {
			break
		}
		anchor = i
	}
	if anchor > 0 {
		h.samples = append(h.samples[:0], h.samples[anchor:]...)
	}
}

// Change is what a binding produced and consumed over the span of its
// history: from the window's anchor to the newest observation.
type Change struct {
	Produced, Consumed int64
	Span               time.Duration
}

// Over returns the change across the history, and false while the history
// holds fewer than two observations (no rate can be known yet).
func (h *History) Over() (Change, bool) {
	n := len(h.samples)
	if n < 2 {
		return Change{}, false
	}
	first, last := h.samples[0], h.samples[n-1]
	return Change{
		Produced: last.produced - first.produced,
		Consumed: last.consumed - first.consumed,
		Span:     time.Duration(last.at - first.at),
	}, true
}

// ProduceRate is the messages produced per second over the span.
func (c Change) ProduceRate() float64 { return perSecond(c.Produced, c.Span) }

// ConsumeRate is the messages consumed per second over the span.
func (c Change) ConsumeRate() float64 { return perSecond(c.Consumed, c.Span) }

func perSecond(n int64, span time.Duration) float64 {
	if span <= 0 {
		return 0
	}
	return float64(n) / span.Seconds()
}
