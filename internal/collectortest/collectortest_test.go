package collectortest

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStartRunsTheBinaryOnTheWrittenConfig uses a stand-in binary that
// prints the file given to --config and an environment variable, then exits:
// WaitExposing must report the exit with the output instead of waiting.
func TestStartRunsTheBinaryOnTheWrittenConfig(t *testing.T) {
	dir := t.TempDir()
	binary := filepath.Join(dir, "fake-collector")
	require.NoError(t, os.WriteFile(binary, []byte("#!/bin/sh\necho \"$EXTRA\"\ncat \"$2\"\nexit 3\n"), 0o700))

	c, err := Start(binary, dir, "receivers: {}\n", 19464, "EXTRA=from-env")
	require.NoError(t, err)
	err = c.WaitExposing(t.Context(), "slimfaaskafka_pending_messages", time.Minute)
	require.ErrorContains(t, err, "collector exited")
	assert.Contains(t, err.Error(), "from-env")
	assert.Contains(t, err.Error(), "receivers: {}")
	assert.FileExists(t, filepath.Join(dir, "config-19464.yaml"))
}
