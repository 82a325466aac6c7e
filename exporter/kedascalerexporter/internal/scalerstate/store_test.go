package scalerstate

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kafkawake/kafkawake/exporter/kedascalerexporter/internal/trigger"
)

var t0 = time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC)

const interval = 10 * time.Second

func newStore() *Store {
	return New(Settings{ActiveWindow: time.Minute, StaleAfter: 3, ForgetAfter: 5 * time.Minute})
}

var (
	ordersEU = BindingKey{ClusterAlias: "eu", Topic: "orders", Group: "g1", Function: "f"}
	ordersUS = BindingKey{ClusterAlias: "us", Topic: "orders", Group: "g1", Function: "f"}
	refunds  = BindingKey{ClusterAlias: "eu", Topic: "refunds", Group: "g2", Function: "f"}
	other    = BindingKey{Topic: "audit", Group: "g3", Function: "other"}
)

func point(key BindingKey, kind Kind, value float64, at time.Time) Point {
	return Point{Key: key, Kind: kind, Value: value, Time: at, StartTime: t0}
}

// scrape applies one collection at at: the value of kind for each binding.
func scrape(s *Store, at time.Time, kind Kind, values map[BindingKey]float64) {
	var points []Point
	for key, v := range values {
		points = append(points, point(key, kind, v, at))
	}
	s.Apply(points, at)
}

func trig(sel trigger.Selector, metric trigger.Metric) trigger.Trigger {
	return trigger.Trigger{Selector: sel, Metric: metric, Target: 100}
}

func TestMetricOrderMatchesKinds(t *testing.T) {
	assert.Equal(t, Pending, Kind(trigger.PendingMessages))
	assert.Equal(t, Desired, Kind(trigger.DesiredReplicas))
	assert.Equal(t, Age, Kind(trigger.PendingAge))
}

func TestSelectionSumsAndMax(t *testing.T) {
	s := newStore()
	pending := map[BindingKey]float64{ordersEU: 3, ordersUS: 4, refunds: 5, other: 100}
	ages := map[BindingKey]float64{ordersEU: 2.5, ordersUS: 9, refunds: 1, other: 1000}
	desired := map[BindingKey]float64{ordersEU: 1, ordersUS: 2, refunds: 3, other: 50}
	scrape(s, t0, Pending, pending)
	scrape(s, t0, Age, ages)
	scrape(s, t0, Desired, desired)

	tests := []struct {
		name   string
		sel    trigger.Selector
		metric trigger.Metric
		want   float64
	}{
		{"function, every cluster", trigger.Selector{Function: "f"}, trigger.PendingMessages, 12},
		{"function on one cluster", trigger.Selector{Function: "f", ClusterAlias: "eu"}, trigger.PendingMessages, 8},
		{"topic and group, every cluster", trigger.Selector{Topic: "orders", Group: "g1"}, trigger.PendingMessages, 7},
		{"topic and group on one cluster", trigger.Selector{Topic: "orders", Group: "g1", ClusterAlias: "us"}, trigger.PendingMessages, 4},
		{"pending_age is the maximum", trigger.Selector{Function: "f"}, trigger.PendingAge, 9},
		{"desired_replicas is summed", trigger.Selector{Function: "f"}, trigger.DesiredReplicas, 6},
		{"binding without cluster alias", trigger.Selector{Topic: "audit", Group: "g3"}, trigger.PendingMessages, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := s.Evaluate(trig(tt.sel, tt.metric), t0)
			require.NoError(t, err)
			assert.Equal(t, tt.want, res.Value)
			assert.True(t, res.Active)
		})
	}
}

func TestNotFoundNamesTheSelector(t *testing.T) {
	s := newStore()
	scrape(s, t0, Pending, map[BindingKey]float64{ordersEU: 1})
	for _, sel := range []trigger.Selector{
		{Function: "missing"},
		{Function: "f", ClusterAlias: "ap"},
		{Topic: "orders", Group: "g9"},
	} {
		_, err := s.Evaluate(trig(sel, trigger.PendingMessages), t0)
		var notFound *NotFoundError
		require.True(t, errors.As(err, &notFound), "%v: %v", sel, err)
		assert.Contains(t, err.Error(), sel.String())
	}
}

func TestUnreadableBindingMakesTheWholeSumUnavailable(t *testing.T) {
	s := newStore()
	scrape(s, t0, Pending, map[BindingKey]float64{ordersEU: 3, refunds: 5})
	// refunds' next collection fails: a status error and no pending point.
	s.Apply([]Point{
		point(ordersEU, Pending, 4, t0.Add(interval)),
		{Key: refunds, Kind: Status, Value: 1, Time: t0.Add(interval), Unreadable: true},
	}, t0.Add(interval))

	_, err := s.Evaluate(trig(trigger.Selector{Function: "f"}, trigger.PendingMessages), t0.Add(interval))
	var unavailable *UnavailableError
	require.True(t, errors.As(err, &unavailable), "a sum over the readable bindings only must not be returned: %v", err)
	assert.Equal(t, refunds, unavailable.Binding)
	assert.Contains(t, err.Error(), `topic "refunds" group "g2" function "f" on cluster "eu"`)

	// The readable binding alone still answers.
	res, err := s.Evaluate(trig(trigger.Selector{Topic: "orders", Group: "g1"}, trigger.PendingMessages), t0.Add(interval))
	require.NoError(t, err)
	assert.Equal(t, 4.0, res.Value)

	// The next collection reads refunds again.
	s.Apply([]Point{
		point(ordersEU, Pending, 4, t0.Add(2*interval)),
		point(refunds, Pending, 6, t0.Add(2*interval)),
		{Key: refunds, Kind: Status, Value: 1, Time: t0.Add(2 * interval)},
	}, t0.Add(2*interval))
	res, err = s.Evaluate(trig(trigger.Selector{Function: "f"}, trigger.PendingMessages), t0.Add(2*interval))
	require.NoError(t, err)
	assert.Equal(t, 10.0, res.Value)
}

func TestStatusOlderThanTheValueDoesNotHideIt(t *testing.T) {
	s := newStore()
	s.Apply([]Point{{Key: ordersEU, Kind: Status, Value: 1, Time: t0, Unreadable: true}}, t0)
	s.Apply([]Point{point(ordersEU, Pending, 2, t0.Add(interval))}, t0.Add(interval))
	res, err := s.Evaluate(trig(trigger.Selector{Function: "f"}, trigger.PendingMessages), t0.Add(interval))
	require.NoError(t, err)
	assert.Equal(t, 2.0, res.Value)
}

func TestMetricNeverReportedIsUnavailable(t *testing.T) {
	s := newStore()
	scrape(s, t0, Pending, map[BindingKey]float64{ordersEU: 3})
	_, err := s.Evaluate(trig(trigger.Selector{Function: "f"}, trigger.DesiredReplicas), t0)
	var unavailable *UnavailableError
	require.True(t, errors.As(err, &unavailable), "%v", err)
	assert.Contains(t, err.Error(), "no desired_replicas point")
}

func TestStaleAfterItsOwnIntervals(t *testing.T) {
	s := newStore()
	fast := BindingKey{Topic: "fast", Group: "g", Function: "f"}
	// ordersEU reports every 10 s, fast every second.
	scrape(s, t0, Pending, map[BindingKey]float64{ordersEU: 1, fast: 1})
	scrape(s, t0.Add(time.Second), Pending, map[BindingKey]float64{fast: 1})
	scrape(s, t0.Add(interval), Pending, map[BindingKey]float64{ordersEU: 2})
	onlyOrders := trig(trigger.Selector{Topic: "orders", Group: "g1"}, trigger.PendingMessages)

	lastPoint := t0.Add(interval)
	res, err := s.Evaluate(onlyOrders, lastPoint.Add(3*interval-time.Millisecond))
	require.NoError(t, err)
	assert.Equal(t, lastPoint.Add(3*interval), res.Until, "the answer changes when the value goes stale")

	_, err = s.Evaluate(onlyOrders, lastPoint.Add(3*interval))
	var unavailable *UnavailableError
	require.True(t, errors.As(err, &unavailable), "%v", err)
	assert.Contains(t, err.Error(), "3 reporting intervals of 10s")

	// fast's last point is at t0+1s, interval 1s: stale from t0+4s, which
	// makes the function's sum unavailable though ordersEU is fresh.
	_, err = s.Evaluate(trig(trigger.Selector{Function: "f"}, trigger.PendingMessages), t0.Add(interval))
	require.True(t, errors.As(err, &unavailable), "%v", err)
	assert.Equal(t, fast, unavailable.Binding)
}

func TestEarlyReportDoesNotShortenTheInterval(t *testing.T) {
	s := newStore()
	scrape(s, t0, Pending, map[BindingKey]float64{ordersEU: 0})
	scrape(s, t0.Add(interval), Pending, map[BindingKey]float64{ordersEU: 0})
	// Watch reports 100 ms apart for a minute after a scrape.
	early := t0.Add(interval)
	for range 600 {
		early = early.Add(100 * time.Millisecond)
		scrape(s, early, Pending, map[BindingKey]float64{ordersEU: 1})
	}
	res, err := s.Evaluate(trig(trigger.Selector{Function: "f"}, trigger.PendingMessages), early.Add(3*interval-time.Second))
	require.NoError(t, err)
	assert.Equal(t, 1.0, res.Value)
}

func TestShorterCollectionIntervalIsLearnt(t *testing.T) {
	s := newStore()
	at := t0
	for range 3 {
		scrape(s, at, Pending, map[BindingKey]float64{ordersEU: 1})
		at = at.Add(interval)
	}
	// The receiver restarts with a 1 s collection_interval.
	for range 400 {
		scrape(s, at, Pending, map[BindingKey]float64{ordersEU: 1})
		at = at.Add(time.Second)
	}
	last := at.Add(-time.Second)
	_, err := s.Evaluate(trig(trigger.Selector{Function: "f"}, trigger.PendingMessages), last.Add(3*time.Second))
	var unavailable *UnavailableError
	assert.True(t, errors.As(err, &unavailable), "stale after 3 of the new intervals: %v", err)
}

func TestActivity(t *testing.T) {
	// Values do not go stale here: the test is about the active window.
	s := New(Settings{ActiveWindow: time.Minute, StaleAfter: 1000, ForgetAfter: time.Hour})
	f := trig(trigger.Selector{Function: "f"}, trigger.PendingMessages)
	counter := func(v float64, at time.Time, start time.Time) {
		s.Apply([]Point{
			point(ordersEU, Pending, 0, at),
			{Key: ordersEU, Kind: Consumed, Value: v, Time: at, StartTime: start},
		}, at)
	}
	counter(10, t0, t0)
	res, err := s.Evaluate(f, t0)
	require.NoError(t, err)
	assert.False(t, res.Active, "the first counter value is a baseline")

	counter(15, t0.Add(interval), t0)
	res, err = s.Evaluate(f, t0.Add(interval))
	require.NoError(t, err)
	assert.True(t, res.Active, "consumed within the window")
	assert.Equal(t, t0.Add(interval+time.Minute), res.Until)

	counter(15, t0.Add(2*interval), t0)
	res, err = s.Evaluate(f, t0.Add(interval+time.Minute))
	require.NoError(t, err)
	assert.False(t, res.Active, "the window has passed")

	// A restarted counter (new start time) is a new baseline.
	restart := t0.Add(2 * time.Minute)
	counter(20, restart, restart)
	res, err = s.Evaluate(f, restart)
	require.NoError(t, err)
	assert.False(t, res.Active)

	// last_activity_timestamp within the window counts too.
	at := restart.Add(interval)
	s.Apply([]Point{
		point(ordersEU, Pending, 0, at),
		point(ordersEU, LastActivity, float64(at.Add(-30*time.Second).Unix()), at),
	}, at)
	res, err = s.Evaluate(f, at)
	require.NoError(t, err)
	assert.True(t, res.Active)
	assert.True(t, at.Add(30*time.Second).Equal(res.Until), "until %s", res.Until)
}

func TestActivationValue(t *testing.T) {
	s := newStore()
	scrape(s, t0, Pending, map[BindingKey]float64{ordersEU: 5})
	f := trig(trigger.Selector{Function: "f"}, trigger.PendingMessages)
	f.Activation = 5
	res, err := s.Evaluate(f, t0)
	require.NoError(t, err)
	assert.False(t, res.Active, "5 is not above 5")
	f.Activation = 4.5
	res, err = s.Evaluate(f, t0)
	require.NoError(t, err)
	assert.True(t, res.Active)
}

func TestSilentBindingsAreForgotten(t *testing.T) {
	s := newStore()
	scrape(s, t0, Pending, map[BindingKey]float64{ordersEU: 1, refunds: 1})
	scrape(s, t0.Add(interval), Pending, map[BindingKey]float64{ordersEU: 1, refunds: 1})
	for at := t0.Add(2 * interval); at.Before(t0.Add(7 * time.Minute)); at = at.Add(interval) {
		scrape(s, at, Pending, map[BindingKey]float64{ordersEU: 1})
	}
	assert.Equal(t, 1, s.Bindings())
	_, err := s.Evaluate(trig(trigger.Selector{Topic: "refunds", Group: "g2"}, trigger.PendingMessages), t0.Add(7*time.Minute))
	var notFound *NotFoundError
	assert.True(t, errors.As(err, &notFound), "%v", err)
	res, err := s.Evaluate(trig(trigger.Selector{Function: "f"}, trigger.PendingMessages), t0.Add(7*time.Minute-interval))
	require.NoError(t, err)
	assert.Equal(t, 1.0, res.Value)
}

func TestSubscriptions(t *testing.T) {
	s := newStore()
	subs := make([]*Subscription, 10)
	for i := range subs {
		subs[i] = s.Subscribe()
	}
	assert.Equal(t, 10, s.Subscribers())
	scrape(s, t0, Pending, map[BindingKey]float64{ordersEU: 1})
	scrape(s, t0.Add(interval), Pending, map[BindingKey]float64{ordersEU: 2})
	for _, sub := range subs {
		select {
		case <-sub.C:
		default:
			t.Fatal("a subscriber was not told of the change")
		}
		select {
		case <-sub.C:
			t.Fatal("two changes must coalesce into one signal")
		default:
		}
		sub.Close()
	}
	assert.Equal(t, 0, s.Subscribers())
}
