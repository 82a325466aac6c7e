// Package slimfaastest is the tests' SlimFaas: an HTTP server that answers
// wake calls as scripted (204 unless told otherwise) and records each one.
package slimfaastest // import "github.com/kafkawake/kafkawake/internal/slimfaastest"

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// WakePrefix is the path of SlimFaas's wake route before the function name.
const WakePrefix = "/wake-function/"

// Call is one request the server received.
type Call struct {
	Method string
	// URI is the request URI as sent; Path its path, unescaped.
	URI, Path string
	// Function is the name after WakePrefix, "" for another path.
	Function string
	Body     string
	Header   http.Header
	// At is when the request arrived. Status is what the server answered;
	// 0 when the client never got it (connection dropped, or the client
	// gave up before the answer).
	At     time.Time
	Status int
}

// Succeeded tells whether the server answered 2xx.
func (c Call) Succeeded() bool { return c.Status >= 200 && c.Status < 300 }

// Answer writes the response to the n-th request (from 0).
type Answer func(w http.ResponseWriter, r *http.Request, n int)

// Status answers every request with status.
func Status(status int) Answer {
	return func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(status) }
}

// Server is a fake SlimFaas; it stops when the test ends.
type Server struct {
	*httptest.Server
	mu       sync.Mutex
	answer   Answer
	calls    []Call
	received chan Call
	// connections counts the TCP connections clients opened to it.
	connections atomic.Int64
}

// New starts a server that answers 204, as SlimFaas does for a known
// function, until Script changes it.
func New(t testing.TB) *Server {
	t.Helper()
	return NewScripted(t, nil)
}

// NewScripted starts a server that answers with answer (nil: 204).
func NewScripted(t testing.TB, answer Answer) *Server {
	t.Helper()
	s := &Server{answer: answer, received: make(chan Call, 1024)}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			s.connections.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	call := Call{
		Method: r.Method, URI: r.RequestURI, Path: r.URL.Path, Body: string(body), Header: r.Header.Clone(), At: time.Now(),
	}
	if name, ok := strings.CutPrefix(r.URL.Path, WakePrefix); ok {
		call.Function = name
	}
	s.mu.Lock()
	n := len(s.calls)
	answer := s.answer
	s.calls = append(s.calls, call)
	s.mu.Unlock()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	if answer == nil {
		answer = Status(http.StatusNoContent)
	}
	answer(rec, r, n)
	if rec.hijacked || r.Context().Err() != nil {
		rec.status = 0
	}
	call.Status = rec.status
	s.mu.Lock()
	s.calls[n].Status = rec.status
	s.mu.Unlock()
	select {
	case s.received <- call:
	default: // nobody reads them: Calls has them all
	}
}

// Script makes answer answer the requests from now on; nil answers 204.
func (s *Server) Script(answer Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answer = answer
}

// Connections returns how many TCP connections clients have opened so far.
func (s *Server) Connections() int64 { return s.connections.Load() }

// Calls returns every request so far, in arrival order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Received delivers each answered request, for tests that wait for the next
// one; it holds the latest 1,024 not yet read.
func (s *Server) Received() <-chan Call { return s.received }

// OnEachCall runs handle for every request answered from now on, in
// arrival order, until the test ends: a woken function's work, for example.
func (s *Server) OnEachCall(t testing.TB, handle func(Call)) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case call := <-s.received:
				handle(call)
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// CallsFor counts the wake calls of function.
func (s *Server) CallsFor(function string) int {
	n := 0
	for _, c := range s.Calls() {
		if c.Function == function {
			n++
		}
	}
	return n
}

// Wakes counts the successful wake calls per function.
func (s *Server) Wakes() map[string]int {
	out := map[string]int{}
	for _, c := range s.Calls() {
		if c.Function != "" && c.Succeeded() {
			out[c.Function]++
		}
	}
	return out
}

// TotalWakes counts the successful wake calls of every function.
func (s *Server) TotalWakes() int {
	total := 0
	for _, n := range s.Wakes() {
		total += n
	}
	return total
}

// FirstWake is when function was first woken successfully; zero if never.
func (s *Server) FirstWake(function string) time.Time {
	for _, c := range s.Calls() {
		if c.Function == function && c.Succeeded() {
			return c.At
		}
	}
	return time.Time{}
}

type statusRecorder struct {
	http.ResponseWriter
	status   int
	hijacked bool
}

// Unwrap lets http.ResponseController reach the connection.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Hijack hands the connection over, for answers that drop it.
func (r *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	r.hijacked = true
	return http.NewResponseController(r.ResponseWriter).Hijack()
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}
