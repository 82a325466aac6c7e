package slimfaasname

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestValidate(t *testing.T) {
	for _, good := range []string{"f", "fibonacci-kafka-listener", "a1", "9", strings.Repeat("a", 63)} {
		assert.NoError(t, Validate(good), good)
	}
	for _, bad := range []string{"", "..", ".", "a/b", "a b", "Fibonacci", "-a", "a-", "a_b", "a.b", "é", strings.Repeat("a", 64)} {
		assert.ErrorContains(t, Validate(bad), "is not a SlimFaas function name", "%q", bad)
	}
}
