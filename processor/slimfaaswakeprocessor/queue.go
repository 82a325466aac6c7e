package slimfaaswakeprocessor // import "github.com/kafkawake/kafkawake/processor/slimfaaswakeprocessor"

import (
	"net/http"
	"sync"
)

// wakeQueue starts wake calls in the order they were decided, while fewer
// than maxConcurrentWakes wait for or make their first attempt: a burst of
// 10,000 wakes waits here as data rather than as 10,000 goroutines, whose
// stacks were about 45 MiB of RSS at once. It has its own lock, so that a
// finished call makes room for the next without waiting for a batch being
// decided.
type wakeQueue struct {
	// start runs a call in its own goroutine.
	start func(queuedWake)

	mu            sync.Mutex
	waiting       []queuedWake
	firstAttempts int
	closed        bool
}

// queuedWake is a wake call waiting for its goroutine.
type queuedWake struct {
	client *http.Client
	call   wakeCall
}

// push adds a call, started at once if there is room.
func (q *wakeQueue) push(w queuedWake) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.waiting = append(q.waiting, w)
	q.startWaiting()
}

// firstAttemptDone makes room for the next call.
func (q *wakeQueue) firstAttemptDone() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.firstAttempts--
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

// startWaiting starts waiting calls while there is room. Callers hold q.mu.
func (q *wakeQueue) startWaiting() {
	for len(q.waiting) > 0 && q.firstAttempts < maxConcurrentWakes && !q.closed {
		next := q.waiting[0]
		q.waiting[0] = queuedWake{}
		q.waiting = q.waiting[1:]
		q.firstAttempts++
		q.start(next)
	}
	if len(q.waiting) == 0 {
		// A burst's backing array goes with it.
		q.waiting = nil
	}
}
