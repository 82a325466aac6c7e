package slimfaaswakeprocessor // import "github.com/kafkawake/kafkawake/processor/slimfaaswakeprocessor"

import (
	"context"
	"net/http"
	"sync"
)

// wakeQueue holds the call slots, maxConcurrentWakes of them, and the wake
// calls decided but waiting for one. A call starts, in the order calls were
// decided, only once it has a slot: a burst of 10,000 wakes waits here as
// data rather than as 10,000 goroutines, whose stacks were about 45 MiB of
// RSS at once. A retry waits for a slot too. The queue has its own lock, so
// that a finished attempt hands its slot on without waiting for a batch
// being decided.
type wakeQueue struct {
	// start runs a call, which holds a slot, in its own goroutine.
	start func(queuedWake)
	slots chan struct{}

	mu      sync.Mutex
	waiting []queuedWake
	closed  bool
}

func newWakeQueue(start func(queuedWake)) *wakeQueue {
	return &wakeQueue{start: start, slots: make(chan struct{}, maxConcurrentWakes)}
}

// queuedWake is a wake call waiting for its goroutine.
type queuedWake struct {
	client *http.Client
	call   wakeCall
}

// push adds a call, started at once if a slot is free.
func (q *wakeQueue) push(w queuedWake) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.waiting = append(q.waiting, w)
	q.startWaiting()
}

// acquire takes a slot for a retry; it returns false when ctx ends first.
func (q *wakeQueue) acquire(ctx context.Context) bool {
	select {
	case q.slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// release frees an attempt's slot, for the next waiting call.
func (q *wakeQueue) release() {
	<-q.slots
	q.mu.Lock()
	defer q.mu.Unlock()
	q.startWaiting()
}

// close starts nothing more and returns the calls never started.
func (q *wakeQueue) close() []queuedWake {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	dropped := q.waiting
	q.waiting = nil
	return dropped
}

// startWaiting starts waiting calls while a slot is free. Callers hold q.mu.
func (q *wakeQueue) startWaiting() {
	for len(q.waiting) > 0 && !q.closed {
		select {
		case q.slots <- struct{}{}:
		default:
			return
		}
		next := q.waiting[0]
		q.waiting[0] = queuedWake{}
		q.waiting = q.waiting[1:]
		q.start(next)
	}
	// A burst's backing array goes with it.
	q.waiting = nil
}
