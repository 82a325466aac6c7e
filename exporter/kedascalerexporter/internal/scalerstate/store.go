// Package scalerstate keeps the latest reported state of every binding and
// answers, for a trigger, the value KEDA scales on and whether the workload is
// active, or why neither can be known. It knows nothing of pdata or gRPC: the
// exporter feeds it points and the service asks it questions, both with the
// time of the call.
package scalerstate // import "github.com/kafkawake/kafkawake/exporter/kedascalerexporter/internal/scalerstate"

import (
	"slices"
	"sync"
	"time"
)

// BindingKey identifies a binding: the same topic, group and function
// reported for two clusters are two bindings.
type BindingKey struct {
	ClusterAlias string
	Topic        string
	Group        string
	Function     string
}

// Kind is what a point says about its binding.
type Kind int

const (
	// Pending, Desired and Age are the values a trigger scales on; their
	// order follows trigger.Metric.
	Pending Kind = iota
	Desired
	Age
	// Consumed is the cumulative count of consumed messages.
	Consumed
	// LastActivity is the Unix time of the binding's last consumption.
	LastActivity
	// Status is the binding's current status; Unreadable tells whether it
	// says the binding could not be read.
	Status
)

// scaledKinds is the number of kinds a trigger can scale on.
const scaledKinds = int(Age) + 1

// Point is one data point of one binding.
type Point struct {
	Key  BindingKey
	Kind Kind
	// Value is the point's value; for LastActivity, Unix seconds.
	Value float64
	// Time is the point's timestamp, StartTime a counter's start.
	Time, StartTime time.Time
	// Unreadable is set on a Status point whose status means the binding
	// could not be read.
	Unreadable bool
}

// Settings are the store's rules.
type Settings struct {
	// ActiveWindow is how long after a consumption a binding counts as active.
	ActiveWindow time.Duration
	// StaleAfter is how many of its own reporting intervals a value may go
	// without a point before it is unknown.
	StaleAfter int
	// ForgetAfter is how long a binding may go without any point before the
	// store forgets it; a binding whose stale window is longer is kept twice
	// that window.
	ForgetAfter time.Duration
}

// Store holds every binding reported recently. It is safe for concurrent use.
type Store struct {
	settings Settings

	mu       sync.RWMutex
	bindings map[BindingKey]*binding
	// byFunction and byTopicGroup index the bindings for selection.
	byFunction   map[string][]*binding
	byTopicGroup map[topicGroup][]*binding
	nextSweep    time.Time
	subscribers  map[*Subscription]struct{}
}

type topicGroup struct{ topic, group string }

// New returns an empty store.
func New(settings Settings) *Store {
	return &Store{
		settings:     settings,
		bindings:     make(map[BindingKey]*binding),
		byFunction:   make(map[string][]*binding),
		byTopicGroup: make(map[topicGroup][]*binding),
		subscribers:  make(map[*Subscription]struct{}),
	}
}

// Apply records points received at now, forgets bindings silent for too
// long and tells every subscriber that the state may have changed.
func (s *Store) Apply(points []Point, now time.Time) {
	if len(points) == 0 {
		return
	}
	s.mu.Lock()
	for i := range points {
		p := &points[i]
		b := s.bindings[p.Key]
		if b == nil {
			b = s.add(p.Key)
		}
		b.record(p, now)
	}
	s.sweep(now)
	s.mu.Unlock()
	s.notify()
}

func (s *Store) add(key BindingKey) *binding {
	b := &binding{key: key}
	s.bindings[key] = b
	s.byFunction[key.Function] = append(s.byFunction[key.Function], b)
	tg := topicGroup{key.Topic, key.Group}
	s.byTopicGroup[tg] = append(s.byTopicGroup[tg], b)
	return b
}

// sweepEvery is how often Apply walks the bindings to forget silent ones.
const sweepEvery = time.Minute

func (s *Store) sweep(now time.Time) {
	if now.Before(s.nextSweep) {
		return
	}
	s.nextSweep = now.Add(sweepEvery)
	for key, b := range s.bindings {
		if now.Sub(b.lastReceived) <= s.forgetAfter(b) {
			continue
		}
		delete(s.bindings, key)
		s.byFunction[key.Function] = remove(s.byFunction[key.Function], b)
		if len(s.byFunction[key.Function]) == 0 {
			delete(s.byFunction, key.Function)
		}
		tg := topicGroup{key.Topic, key.Group}
		s.byTopicGroup[tg] = remove(s.byTopicGroup[tg], b)
		if len(s.byTopicGroup[tg]) == 0 {
			delete(s.byTopicGroup, tg)
		}
	}
}

func (s *Store) forgetAfter(b *binding) time.Duration {
	var longest time.Duration
	for i := range b.values {
		longest = max(longest, b.values[i].interval)
	}
	return max(s.settings.ForgetAfter, 2*time.Duration(s.settings.StaleAfter)*longest)
}

func remove(list []*binding, b *binding) []*binding {
	return slices.DeleteFunc(list, func(x *binding) bool { return x == b })
}

// Bindings is the number of bindings the store holds.
func (s *Store) Bindings() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.bindings)
}

// Subscription is told when the state may have changed.
type Subscription struct {
	// C receives a value after each change; one pending value covers any
	// number of changes.
	C     <-chan struct{}
	c     chan struct{}
	store *Store
}

// Subscribe returns a subscription; Close it when done.
func (s *Store) Subscribe() *Subscription {
	c := make(chan struct{}, 1)
	sub := &Subscription{C: c, c: c, store: s}
	s.mu.Lock()
	s.subscribers[sub] = struct{}{}
	s.mu.Unlock()
	return sub
}

// Close frees the subscription.
func (sub *Subscription) Close() {
	sub.store.mu.Lock()
	delete(sub.store.subscribers, sub)
	sub.store.mu.Unlock()
}

// Subscribers is the number of open subscriptions.
func (s *Store) Subscribers() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.subscribers)
}

func (s *Store) notify() {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for sub := range s.subscribers {
		select {
		case sub.c <- struct{}{}:
		default:
		}
	}
}
