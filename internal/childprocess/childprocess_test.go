package childprocess

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// waitOutput waits until the process has written want.
func waitOutput(t *testing.T, p *Process, want string) {
	t.Helper()
	require.Eventually(t, func() bool { return strings.Contains(p.Output(), want) },
		10*time.Second, 10*time.Millisecond, "output so far: %q", p.Output())
}

func TestStopEndsAProcessThatHonoursSIGTERM(t *testing.T) {
	p, err := Start("sh", []string{"-c", `echo "$GREETING"; exec sleep 30`}, "GREETING=hello")
	require.NoError(t, err)
	waitOutput(t, p, "hello")

	require.NoError(t, p.Stop(10*time.Second))
	assert.ErrorIs(t, p.Stop(10*time.Second), ErrAlreadyExited)
	select {
	case <-p.Exited():
	default:
		t.Fatal("Exited is open after Stop")
	}
}

func TestStopKillsAProcessThatIgnoresSIGTERM(t *testing.T) {
	// The trap is set before "ready", and an ignored signal stays ignored
	// across exec.
	p, err := Start("sh", []string{"-c", `trap "" TERM; echo ready; exec sleep 30`})
	require.NoError(t, err)
	waitOutput(t, p, "ready")

	err = p.Stop(100 * time.Millisecond)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "did not stop within 100ms of SIGTERM")
}

func TestStartReportsAMissingProgram(t *testing.T) {
	_, err := Start("./no-such-program", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no-such-program")
}

func TestFreePortCanBeListenedOn(t *testing.T) {
	port, err := FreePort()
	require.NoError(t, err)
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	require.NoError(t, err)
	require.NoError(t, l.Close())
}
