package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseEnvFile(t *testing.T) {
	input := `
# comment
Kafka__BootstrapServers=kafka:9092
export Kafka__ClientId = monitor
environment:
  - SlimFaas__BaseUrl=http://slimfaas:30021
  - "SlimKafka__Bindings__0__Topic=fibo-public"
QUOTED="a value"
SINGLE='x=y'
EMPTY=
WITH_EQUALS=a=b
Kafka__BootstrapServers=kafka-0:9092
`
	env, err := parseEnvFile(strings.NewReader(input))
	require.NoError(t, err)
	assert.Equal(t, map[string]string{
		"Kafka__BootstrapServers":       "kafka-0:9092", // the later line wins
		"Kafka__ClientId":               "monitor",
		"SlimFaas__BaseUrl":             "http://slimfaas:30021",
		"SlimKafka__Bindings__0__Topic": "fibo-public",
		"QUOTED":                        "a value",
		"SINGLE":                        "x=y",
		"EMPTY":                         "",
		"WITH_EQUALS":                   "a=b",
	}, env)
}

func TestParseEnvFileRejectsOtherLines(t *testing.T) {
	for _, input := range []string{"Kafka__BootstrapServers", "=value", "Kafka BootstrapServers=x", "  - slimfaas-net"} {
		_, err := parseEnvFile(strings.NewReader("A=1\n\n" + input + "\n"))
		assert.ErrorContains(t, err, "line 3: ", "input %q", input)
		assert.ErrorContains(t, err, "is not KEY=VALUE", "input %q", input)
	}
}
