package scalerstate // import "github.com/kafkawake/kafkawake/exporter/kedascalerexporter/internal/scalerstate"

import (
	"fmt"
	"time"

	"github.com/kafkawake/kafkawake/exporter/kedascalerexporter/internal/trigger"
)

// Result is what a trigger reads from the bindings it selects.
type Result struct {
	// Value is the selected metric: the sum over the bindings, or the maximum
	// for pending_age.
	Value float64
	// Active is Value > the trigger's activation value, or a selected binding
	// consumed within the active window.
	Active bool
	// Until is when Result may change with no new point (a consumption leaves
	// the active window, a value goes stale); zero when only a point can
	// change it.
	Until time.Time
}

// NotFoundError says that no binding the trigger selects has been reported.
type NotFoundError struct{ Selector trigger.Selector }

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("no binding reported for trigger metadata %s", e.Selector)
}

// UnavailableError says that a selected binding's value is unknown, so the
// trigger's value is too: a sum over the other bindings would be wrong.
type UnavailableError struct {
	Binding BindingKey
	Reason  string
}

func (e *UnavailableError) Error() string {
	k := e.Binding
	where := ""
	if k.ClusterAlias != "" {
		where = fmt.Sprintf(" on cluster %q", k.ClusterAlias)
	}
	return fmt.Sprintf("binding topic %q group %q function %q%s: %s", k.Topic, k.Group, k.Function, where, e.Reason)
}

// Evaluate reads t's value and activity at now. It returns a *NotFoundError
// when no selected binding is known and an *UnavailableError when any
// selected binding's value is unknown.
func (s *Store) Evaluate(t trigger.Trigger, now time.Time) (Result, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var candidates []*binding
	if t.Function != "" {
		candidates = s.byFunction[t.Function]
	} else {
		candidates = s.byTopicGroup[topicGroup{t.Topic, t.Group}]
	}

	var (
		res      Result
		selected int
		recent   bool
	)
	kind := Kind(t.Metric)
	for _, b := range candidates {
		if t.ClusterAlias != "" && b.key.ClusterAlias != t.ClusterAlias {
			continue
		}
		selected++
		v := &b.values[kind]
		if b.unreadable && !b.statusTime.Before(v.pointTime) {
			return Result{}, &UnavailableError{Binding: b.key, Reason: "its latest collection could not read it (binding_status error)"}
		}
		if !v.seen {
			return Result{}, &UnavailableError{Binding: b.key, Reason: fmt.Sprintf("no %s point received yet", t.Metric)}
		}
		staleAt := v.staleAt(s.settings.StaleAfter)
		if !staleAt.IsZero() {
			if !now.Before(staleAt) {
				return Result{}, &UnavailableError{Binding: b.key, Reason: fmt.Sprintf(
					"no %s point for %s (%d reporting intervals of %s)",
					t.Metric, now.Sub(v.received).Round(time.Millisecond), s.settings.StaleAfter, v.interval)}
			}
			res.Until = earliest(res.Until, staleAt)
		}
		if t.Metric == trigger.PendingAge {
			res.Value = max(res.Value, v.value)
		} else {
			res.Value += v.value
		}
		if until := b.activeUntil(s.settings.ActiveWindow); now.Before(until) {
			recent = true
			res.Until = earliest(res.Until, until)
		}
	}
	if selected == 0 {
		return Result{}, &NotFoundError{Selector: t.Selector}
	}
	res.Active = res.Value > t.Activation || recent
	return res, nil
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}
