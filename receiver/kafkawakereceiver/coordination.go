package kafkawakereceiver // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver"

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/coordination"
)

// bindingOwner tells which of the configured bindings this replica owns.
type bindingOwner interface {
	Owned() (generation int32, indexes []int)
}

// startCoordination joins the replicas' group over the receiver's client,
// when coordination is configured.
func (s *kafkaScraper) startCoordination(client *kgo.Client) {
	if !s.cfg.Coordination.HasValue() {
		return
	}
	c := s.cfg.Coordination.Get()
	keys := make([]string, len(s.cfg.Bindings))
	for i, b := range s.cfg.Bindings {
		keys[i] = b.String()
	}
	membership := coordination.New(client, coordination.Config{
		Group:             c.Group,
		SessionTimeout:    c.SessionTimeout,
		HeartbeatInterval: c.HeartbeatInterval,
		Keys:              keys,
		Changed:           s.signalShareChanged,
	}, s.logger, s.now)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		membership.Run(ctx)
	}()
	s.owner = membership
	s.stopCoordination = func() {
		cancel()
		<-done
	}
}

// observedBindings returns the indexes of the bindings this scrape observes:
// all of them without coordination, else those this replica owns now. A
// binding new to this replica starts from a fresh state, so its first
// observation here is a baseline.
func (s *kafkaScraper) observedBindings() []int {
	if s.owner == nil {
		return s.allBindings
	}
	_, owned := s.owner.Owned()
	next := make([]bool, len(s.cfg.Bindings))
	changed := len(owned) != s.observedCount
	for _, i := range owned {
		next[i] = true
		if !s.observed[i] {
			s.states[i] = newBindingState()
			if s.residues != nil {
				s.residues.forget(i)
			}
			s.lastStatusText[i] = ""
			changed = true
		}
	}
	s.observed, s.observedCount = next, len(owned)
	if changed {
		s.watch(owned)
	}
	return owned
}

// signalShareChanged tells the receiver that this replica's share changed;
// one pending signal covers any number of changes.
func (s *kafkaScraper) signalShareChanged() {
	select {
	case s.shareChanged <- struct{}{}:
	default:
	}
}

// movedInBindings brings the observed bindings up to this replica's current
// share, as a scrape does, and returns those new to it: they are reported at
// once instead of at the next scrape, so a binding taken over from a replica
// that died is observed, and its function woken, one collection interval
// sooner. Callers hold s.mu.
func (s *kafkaScraper) movedInBindings() []int {
	before := s.observed
	var in []int
	for _, i := range s.observedBindings() {
		if !before[i] {
			in = append(in, i)
		}
	}
	return in
}
