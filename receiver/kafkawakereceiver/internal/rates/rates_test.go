package rates

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var start = time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)

func TestNoRateBeforeTwoObservations(t *testing.T) {
	h := New(time.Minute)
	_, ok := h.Over()
	assert.False(t, ok, "an empty history has no rate")
	h.Add(start, 10, 5)
	_, ok = h.Over()
	assert.False(t, ok, "one observation has no rate")
	h.Add(start.Add(2*time.Second), 30, 9)
	c, ok := h.Over()
	require.True(t, ok)
	assert.Equal(t, Change{Produced: 20, Consumed: 4, Span: 2 * time.Second}, c)
	assert.InDelta(t, 10, c.ProduceRate(), 1e-9)
	assert.InDelta(t, 2, c.ConsumeRate(), 1e-9)
}

func TestRatesSpanTheWindowOnceObservedThatLong(t *testing.T) {
	h := New(time.Minute)
	// 7 messages produced and 5 consumed a second, observed every 2 s for
	// five minutes.
	for s := 0; s <= 300; s += 2 {
		h.Add(start.Add(time.Duration(s)*time.Second), int64(7*s), int64(5*s))
	}
	c, ok := h.Over()
	require.True(t, ok)
	assert.GreaterOrEqual(t, c.Span, time.Minute, "the anchor is at or before the window's start")
	assert.LessOrEqual(t, c.Span, time.Minute+time.Minute/Slots+2*time.Second, "the anchor is at most a slot before it")
	assert.InDelta(t, 7, c.ProduceRate(), 1e-9)
	assert.InDelta(t, 5, c.ConsumeRate(), 1e-9)
}

func TestHistoryStaysBoundedAtAnyInterval(t *testing.T) {
	for _, interval := range []time.Duration{100 * time.Millisecond, time.Second, 5 * time.Second, 2 * time.Minute} {
		h := New(10 * time.Minute)
		for i := 0; i < 10_000; i++ {
			h.Add(start.Add(time.Duration(i)*interval), int64(i), 0)
			require.LessOrEqual(t, len(h.samples), Slots+2, "interval %s, observation %d", interval, i)
		}
	}
}

func TestARateFollowsAChangeWithinTheWindow(t *testing.T) {
	h := New(time.Minute)
	produced := int64(0)
	at := start
	for i := 0; i < 60; i++ { // two minutes at 100 a second
		at = at.Add(2 * time.Second)
		produced += 200
		h.Add(at, produced, 0)
	}
	for i := 0; i < 40; i++ { // then eighty seconds without producing
		at = at.Add(2 * time.Second)
		h.Add(at, produced, 0)
	}
	c, ok := h.Over()
	require.True(t, ok)
	assert.Zero(t, c.Produced, "the window no longer reaches the producing stretch")
	assert.Zero(t, c.ProduceRate())
}

func TestTheSameObservationTwiceOrAClockSteppingBackIsIgnored(t *testing.T) {
	h := New(time.Minute)
	h.Add(start, 0, 0)
	h.Add(start.Add(2*time.Second), 10, 10)
	h.Add(start.Add(2*time.Second), 99, 99)
	h.Add(start.Add(time.Second), 50, 50)
	c, ok := h.Over()
	require.True(t, ok)
	assert.Equal(t, Change{Produced: 10, Consumed: 10, Span: 2 * time.Second}, c)
}

// BenchmarkRatesHistory measures one observation's Add on a full history,
// and the heap 10,000 full histories hold (bytes/binding): the memory
// bound of the rate window at any collection interval.
func BenchmarkRatesHistory(b *testing.B) {
	const bindings = 10_000
	fill := func(h *History, from time.Time) time.Time {
		at := from
		for range 4 * Slots {
			at = at.Add(time.Second)
			h.Add(at, at.Unix(), at.Unix())
		}
		return at
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	histories := make([]*History, bindings)
	for i := range histories {
		histories[i] = New(time.Minute)
		fill(histories[i], start)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perBinding := float64(after.HeapAlloc-before.HeapAlloc) / bindings

	h := histories[0]
	at := fill(h, start.Add(time.Hour))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		at = at.Add(2 * time.Second)
		h.Add(at, int64(i), int64(i))
	}
	b.StopTimer()
	b.ReportMetric(perBinding, "bytes/binding")
	runtime.KeepAlive(histories)
}
