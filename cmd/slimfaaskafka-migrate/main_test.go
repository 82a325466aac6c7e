package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func runCommand(args, environ []string, stdin string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(args, environ, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestRunReadsTheEnvFile(t *testing.T) {
	code, stdout, stderr := runCommand([]string{"-env-file", filepath.Join("testdata", "seed_compose.env")}, nil, "")
	assert.Equal(t, 0, code)
	want, err := os.ReadFile(filepath.Join("testdata", "seed_compose.golden.yaml"))
	require.NoError(t, err)
	assert.Equal(t, string(want), stdout)
	assert.True(t, strings.HasPrefix(stderr, "warning: SlimKafka__Bindings__* variables"), stderr)
	assert.Equal(t, 1, strings.Count(stderr, "\n"))
}

func TestRunReadsTheProcessEnvironmentByDefault(t *testing.T) {
	environ := []string{"PATH=/usr/bin", "=C:=C:\\", "SlimFaas__BaseUrl=http://slimfaas:30021"}
	for k, v := range seedBinding() {
		environ = append(environ, k+"="+v)
	}
	code, stdout, stderr := runCommand(nil, environ, "")
	assert.Equal(t, 0, code)
	assert.Empty(t, stderr)
	assert.Contains(t, stdout, "endpoint: http://slimfaas:30021\n")
	assert.Contains(t, stdout, "- topic: fibo-public\n")
}

func TestRunReadsStdin(t *testing.T) {
	input, err := os.ReadFile(filepath.Join("testdata", "seed_env_vars.env"))
	require.NoError(t, err)
	code, stdout, stderr := runCommand([]string{"-env-file", "-"}, nil, string(input))
	assert.Equal(t, 0, code)
	assert.Empty(t, stderr)
	want, err := os.ReadFile(filepath.Join("testdata", "seed_env_vars.golden.yaml"))
	require.NoError(t, err)
	assert.Equal(t, string(want), stdout)
}

func TestRunFailures(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		stdin      string
		wantCode   int
		wantStderr []string
	}{
		{
			name: "no bindings", args: []string{"-env-file", "-"}, stdin: "Kafka__BootstrapServers=kafka:9092\n",
			wantCode: 1, wantStderr: []string{"error: no bindings: set SlimFaasKafka__Bindings__0__Topic"},
		},
		{
			name: "every problem on its own line, after the warnings", args: []string{"-env-file", "-"},
			stdin:    "Kafka__AllowAutoCreateTopics=true\nSlimFaasKafka__Bindings__0__Topic=t\nSlimFaasKafka__Bindings__0__CooldownSeconds=x\n",
			wantCode: 1,
			wantStderr: []string{
				"warning: Kafka__AllowAutoCreateTopics has no equivalent",
				"error: SlimFaasKafka__Bindings__0__ConsumerGroupId: required",
				"error: SlimFaasKafka__Bindings__0__FunctionName: required",
				`error: SlimFaasKafka__Bindings__0__CooldownSeconds="x": not a whole number`,
			},
		},
		{
			name: "malformed env file", args: []string{"-env-file", "-"}, stdin: "not a variable\n",
			wantCode: 1, wantStderr: []string{`error: stdin: line 1: "not a variable" is not KEY=VALUE`},
		},
		{
			name: "missing env file", args: []string{"-env-file", filepath.Join("testdata", "absent.env")},
			wantCode: 1, wantStderr: []string{"error: open testdata/absent.env: no such file or directory"},
		},
		{
			name: "unexpected argument", args: []string{"slimfaaskafka.env"},
			wantCode: 2, wantStderr: []string{"usage: slimfaaskafka-migrate [-env-file path]"},
		},
		{
			name: "unknown flag", args: []string{"-config", "x"},
			wantCode: 2, wantStderr: []string{"flag provided but not defined: -config"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCommand(tt.args, nil, tt.stdin)
			assert.Equal(t, tt.wantCode, code)
			assert.Empty(t, stdout, "nothing on stdout on failure")
			lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
			if tt.wantCode == 1 {
				require.Len(t, lines, len(tt.wantStderr), stderr)
			}
			for i, want := range tt.wantStderr {
				assert.Contains(t, lines[i], want)
			}
		})
	}
}
