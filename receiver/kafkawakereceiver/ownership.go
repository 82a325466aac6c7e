package kafkawakereceiver // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver"

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/coordination"
)

// bindingOwner tells which of the configured bindings this replica owns.
type bindingOwner interface {
	Owned() (generation int32, indexes []int)
}

// ownership is the scraper's view of the replicas' group: who owns which
// binding. Without coordination owner is nil and this replica owns all.
type ownership struct {
	owner bindingOwner
	// shareChanged, with coordination, signals that the bindings this
	// replica owns changed; one pending signal covers any number of changes.
	shareChanged chan struct{}
	stop         func()
}

// startCoordination joins the replicas' group over the receiver's client,
// when coordination is configured.
func (s *kafkaScraper) startCoordination(client *kgo.Client) {
	if !s.cfg.Coordination.HasValue() {
		return
	}
	c := s.cfg.Coordination.Get()
	keys := make([]coordination.BindingKey, len(s.cfg.Bindings))
	for i, b := range s.cfg.Bindings {
		keys[i] = coordination.BindingKey{Binding: b.String(), Function: b.Function}
	}
	membership := coordination.New(client, coordination.Config{
		Group:             c.Group,
		SessionTimeout:    c.SessionTimeout,
		HeartbeatInterval: c.HeartbeatInterval,
		Bindings:          keys,
		Changed:           s.signalShareChanged,
		LeaveTimeout:      s.cfg.ShutdownTimeout,
	}, s.logger, s.now)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	// The moved-in reports may already be waiting for the first change: the
	// owner is in place, under the lock they take, before any can happen.
	s.mu.Lock()
	s.owner = membership
	s.stop = func() {
		cancel()
		<-done
	}
	s.mu.Unlock()
	go func() {
		defer close(done)
		membership.Run(ctx)
	}()
}

func (s *kafkaScraper) stopCoordination() {
	if s.stop != nil {
		s.stop()
	}
}

// signalShareChanged tells the receiver that this replica's share changed.
func (s *kafkaScraper) signalShareChanged() {
	select {
	case s.shareChanged <- struct{}{}:
	default:
	}
}

// ownedNow tells, per binding, whether this replica owns it at this moment,
// and whether it knows: a replica that has not joined the group yet, or is
// fenced, knows of no owner, and then owns nothing. flags is nil without
// coordination, where this replica owns every binding. The report asks
// after the reads, so a scrape that outlived the fence does not report its
// bindings as owned and no wake follows from it. Callers hold s.mu.
func (s *kafkaScraper) ownedNow() (flags []bool, known bool) {
	if s.owner == nil {
		return nil, true
	}
	_, owned := s.owner.Owned()
	flags = make([]bool, len(s.memories))
	for _, i := range owned {
		flags[i] = true
	}
	return flags, owned != nil
}

// joined reports whether this replica has an assignment, confirmed or
// fenced: without one (before its first join, or evicted and rejoining) it
// reports nothing, not even with report: all, so that no binding looks
// unowned to the processor while the group forms. Callers hold s.mu.
func (s *kafkaScraper) joined() bool {
	if s.owner == nil {
		return true
	}
	generation, _ := s.owner.Owned()
	return generation > 0
}

// refreshShare brings the memories up to this replica's current share and
// returns the bindings it observes, and those new to its share. With
// report: owned a binding that moves in or out starts over with a fresh
// memory, so its first observation here is a baseline; with report: all
// every binding was already observed here, so its memory, and with it its
// consumption and activity history, carries over. Callers hold s.mu.
func (s *kafkaScraper) refreshShare() (observed, movedIn []int) {
	if s.owner == nil {
		return s.allBindings, nil
	}
	all := s.observeAll
	inShare, _ := s.ownedNow()
	changed := false
	var owned []int
	for i := range s.memories {
		if inShare[i] {
			owned = append(owned, i)
		}
		if s.memories[i].inShare == inShare[i] {
			continue
		}
		changed = true
		if !all {
			s.memories[i] = newBindingMemory(s.cfg, i)
		}
		s.memories[i].inShare = inShare[i]
		if inShare[i] {
			movedIn = append(movedIn, i)
		}
	}
	if all {
		if !s.joined() {
			return nil, nil
		}
		return s.allBindings, movedIn
	}
	if changed {
		s.setReadScope(owned)
	}
	return owned, movedIn
}

// movedInBindings brings the memories up to this replica's current share,
// as a scrape does, and returns the bindings new to it: they are reported at
// once instead of at the next scrape, so a binding taken over from a replica
// that died is observed, and its function woken, one collection interval
// sooner. Callers hold s.mu.
func (s *kafkaScraper) movedInBindings() []int {
	_, movedIn := s.refreshShare()
	return movedIn
}

// earlyReportable keeps, of the given bindings, those this replica
// reports: with report: all every one of them; with report: owned those it
// owns now and observed at its last scrape, so a binding another replica
// took over since is not reported, even before the next scrape stops
// watching it. Whether a reported binding is woken is decided at the
// report, as for a scrape. Callers hold s.mu.
func (s *kafkaScraper) earlyReportable(bindings []int) []int {
	if s.observeAll {
		if !s.joined() {
			return nil
		}
		return bindings
	}
	ownedNow, _ := s.ownedNow()
	return slices.DeleteFunc(slices.Clone(bindings), func(i int) bool {
		return (ownedNow != nil && !ownedNow[i]) || !s.memories[i].inShare
	})
}
