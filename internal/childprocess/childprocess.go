// Package childprocess runs the programs that the end-to-end tests and the
// benchmark harness start beside themselves, such as the built collector and
// a Prometheus server, and keeps their output for error reports.
package childprocess // import "github.com/kafkawake/kafkawake/internal/childprocess"

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// ErrAlreadyExited is returned by Stop when the process had exited by itself.
var ErrAlreadyExited = errors.New("process had already exited")

// Process is one started program.
type Process struct {
	cmd    *exec.Cmd
	output *lockedBuffer
	exited chan struct{}
}

// Start starts name with args, its stdout and stderr kept together, and env
// added to this process's environment.
func Start(name string, args []string, env ...string) (*Process, error) {
	p := &Process{
		cmd:    exec.Command(name, args...),
		output: &lockedBuffer{},
		exited: make(chan struct{}),
	}
	p.cmd.Stdout, p.cmd.Stderr = p.output, p.output
	p.cmd.Env = append(os.Environ(), env...)
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// Pid is the process's id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited is closed when the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Output is everything the process wrote so far.
func (p *Process) Output() string { return p.output.String() }

// Stop sends SIGTERM and waits for the process to exit, killing it after
// grace. It returns ErrAlreadyExited when there was nothing to stop.
func (p *Process) Stop(grace time.Duration) error {
	select {
	case <-p.exited:
		return ErrAlreadyExited
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("%s did not stop within %s of SIGTERM", p.cmd.Path, grace)
	}
}

// Kill kills the process and waits for it to exit.
func (p *Process) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// lockedBuffer collects output written from the goroutines of exec.Cmd.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(data []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(data)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
