//go:build e2e

package e2e

import (
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBinaryListsBothComponents(t *testing.T) {
	out, err := exec.Command(collectorBinary(t), "components").CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Contains(t, string(out), "name: kafkawake")
	assert.Contains(t, string(out), "name: slimfaaswake")
	assert.Contains(t, string(out), "name: prometheus")
	assert.Contains(t, string(out), "name: kedascaler")
	assert.Contains(t, string(out), "name: health_check")
}
