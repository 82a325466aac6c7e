package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenCases are environments under testdata with their expected YAML in
// <name>.golden.yaml. The seed cases are the examples of SlimFaasKafka's docs.
var goldenCases = []struct {
	name         string
	wantWarnings []string // substrings, one per warning, in order
}{
	{name: "seed_env_vars"},
	{name: "seed_compose", wantWarnings: []string{"SlimKafka__Bindings__* variables (the prefix in SlimFaasKafka's docs) are converted"}},
	{name: "overrides", wantWarnings: []string{
		"Kafka__AllowAutoCreateTopics has no equivalent",
		"SlimFaasKafka__Bindings__3__MinConsumedDeltaForActivity=10 had no effect in SlimFaasKafka",
		`SlimFaasKafka__Bindings__1 and SlimFaasKafka__Bindings__3 both wake function "reports" with different rules; ` +
			"kafkawake sets rules per function and uses those of SlimFaasKafka__Bindings__1 " +
			"(MinPendingMessages=1, CooldownSeconds=5, ActivityKeepAliveSeconds=20, MinConsumedDeltaForActivity=1)",
	}},
}

func readEnvFile(t *testing.T, name string) map[string]string {
	t.Helper()
	file, err := os.Open(filepath.Join("testdata", name+".env"))
	require.NoError(t, err)
	defer file.Close()
	env, err := parseEnvFile(file)
	require.NoError(t, err)
	return env
}

func TestGolden(t *testing.T) {
	for _, tt := range goldenCases {
		t.Run(tt.name, func(t *testing.T) {
			cfg, warnings, err := convert(readEnvFile(t, tt.name))
			require.NoError(t, err)
			assertWarnings(t, tt.wantWarnings, warnings)

			golden := filepath.Join("testdata", tt.name+".golden.yaml")
			if *update {
				require.NoError(t, os.WriteFile(golden, cfg.YAML(), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err)
			assert.Equal(t, string(want), string(cfg.YAML()))
		})
	}
}

func assertWarnings(t *testing.T, want, got []string) {
	t.Helper()
	require.Len(t, got, len(want), "warnings: %q", got)
	for i := range want {
		assert.Contains(t, got[i], want[i])
	}
}

// seedBinding is the first binding of SlimFaasKafka's docs.
func seedBinding() map[string]string {
	return map[string]string{
		"SlimFaasKafka__Bindings__0__Topic":           "fibo-public",
		"SlimFaasKafka__Bindings__0__ConsumerGroupId": "fibonacci-listener-group",
		"SlimFaasKafka__Bindings__0__FunctionName":    "fibonaccilistener",
	}
}

func with(env map[string]string, pairs ...string) map[string]string {
	for i := 0; i < len(pairs); i += 2 {
		env[pairs[i]] = pairs[i+1]
	}
	return env
}

func TestConvertErrorsNameTheVariable(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr []string
	}{
		{
			name:    "no bindings",
			env:     map[string]string{"Kafka__BootstrapServers": "kafka:9092", "PATH": "/bin"},
			wantErr: []string{"no bindings: set SlimFaasKafka__Bindings__0__Topic"},
		},
		{
			name:    "empty environment",
			env:     map[string]string{},
			wantErr: []string{"no bindings"},
		},
		{
			name: "missing required fields",
			env:  map[string]string{"SlimFaasKafka__Bindings__4__Topic": "orders", "SlimFaasKafka__Bindings__4__FunctionName": " "},
			wantErr: []string{
				"SlimFaasKafka__Bindings__4__ConsumerGroupId: required, must not be empty",
				"SlimFaasKafka__Bindings__4__FunctionName: required, must not be empty",
			},
		},
		{
			name: "a function name SlimFaas cannot have",
			env:  map[string]string{"SlimFaasKafka__Bindings__0__Topic": "orders", "SlimFaasKafka__Bindings__0__ConsumerGroupId": "g", "SlimFaasKafka__Bindings__0__FunctionName": ".."},
			wantErr: []string{
				`SlimFaasKafka__Bindings__0__FunctionName: ".." is not a SlimFaas function name`,
			},
		},
		{
			name:    "missing field named with the alias prefix in use",
			env:     map[string]string{"SlimKafka__Bindings__0__Topic": "orders", "SlimKafka__Bindings__0__FunctionName": "f"},
			wantErr: []string{"SlimKafka__Bindings__0__ConsumerGroupId: required"},
		},
		{
			name:    "non-numeric binding rule",
			env:     with(seedBinding(), "SlimFaasKafka__Bindings__0__CooldownSeconds", "30s"),
			wantErr: []string{`SlimFaasKafka__Bindings__0__CooldownSeconds="30s": not a whole number`},
		},
		{
			name:    "non-numeric interval",
			env:     with(seedBinding(), "Kafka__CheckIntervalSeconds", "five"),
			wantErr: []string{`Kafka__CheckIntervalSeconds="five": not a whole number`},
		},
		{
			name:    "int overflow",
			env:     with(seedBinding(), "SlimFaas__HttpTimeoutSeconds", "3000000000"),
			wantErr: []string{`SlimFaas__HttpTimeoutSeconds="3000000000": out of range for a 32-bit whole number`},
		},
		{
			name:    "long accepts what int does not",
			env:     with(seedBinding(), "SlimFaasKafka__Bindings__0__MinPendingMessages", "3000000000", "SlimFaasKafka__Bindings__0__MinConsumedDeltaForActivity", "3000000000"),
			wantErr: []string{`SlimFaasKafka__Bindings__0__MinPendingMessages="3000000000": out of range`},
		},
		{
			name:    "non-numeric binding index",
			env:     with(seedBinding(), "SlimFaasKafka__Bindings__first__Topic", "orders"),
			wantErr: []string{`SlimFaasKafka__Bindings__first__Topic: the binding index "first" is not a non-negative whole number`},
		},
		{
			name:    "relative base URL",
			env:     with(seedBinding(), "SlimFaas__BaseUrl", "slimfaas:5000"),
			wantErr: []string{`SlimFaas__BaseUrl="slimfaas:5000": not an absolute http(s) URL`},
		},
		{
			name:    "template without the function name",
			env:     with(seedBinding(), "SlimFaas__WakeUpPathTemplate", "/wake"),
			wantErr: []string{`SlimFaas__WakeUpPathTemplate="/wake": must contain {functionName}`},
		},
		{
			name:    "absolute template",
			env:     with(seedBinding(), "SlimFaas__WakeUpPathTemplate", "http://other/wake/{functionName}"),
			wantErr: []string{"SlimFaas__WakeUpPathTemplate=\"http://other/wake/{functionName}\": must be a path"},
		},
		{
			name:    "no broker",
			env:     with(seedBinding(), "Kafka__BootstrapServers", " , "),
			wantErr: []string{`Kafka__BootstrapServers=" , ": lists no broker`},
		},
		{
			name: "same setting in two cases with different values",
			env:  with(seedBinding(), "Kafka__ClientId", "a", "KAFKA__CLIENTID", "b"),
			wantErr: []string{
				`KAFKA__CLIENTID="b" and Kafka__ClientId="a" set the same setting to different values`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := convert(tt.env)
			require.Error(t, err)
			for _, want := range tt.wantErr {
				assert.ErrorContains(t, err, want)
			}
			assert.Len(t, strings.Split(err.Error(), "\n"), len(tt.wantErr), "one error per problem: %v", err)
		})
	}
}

func TestConvertAppliesSlimFaasKafkaDefaultsAndClamps(t *testing.T) {
	tests := []struct {
		name         string
		env          map[string]string
		wantInterval int64
		wantTimeout  int64
		wantHTTP     int64
		wantRules    wakeRules
		wantWarnings []string
	}{
		{
			name:         "defaults",
			env:          seedBinding(),
			wantInterval: 5, wantTimeout: 5, wantHTTP: 10,
			wantRules: wakeRules{1, 30, 60, 1},
		},
		{
			name: "intervals and timeouts are at least 1 second",
			env: with(seedBinding(), "Kafka__CheckIntervalSeconds", "0", "Kafka__KafkaTimeoutSeconds", "-3",
				"SlimFaas__HttpTimeoutSeconds", "0"),
			wantInterval: 1, wantTimeout: 1, wantHTTP: 1,
			wantRules: wakeRules{1, 30, 60, 1},
		},
		{
			name: "negative cooldown is 0, keep-alive <= 0 disables activity",
			env: with(seedBinding(), "SlimFaasKafka__Bindings__0__CooldownSeconds", "-10",
				"SlimFaasKafka__Bindings__0__ActivityKeepAliveSeconds", "-1"),
			wantInterval: 5, wantTimeout: 5, wantHTTP: 10,
			wantRules: wakeRules{1, 0, 0, 1},
		},
		{
			name:         "min consumed delta below 1 means any consumption, as before",
			env:          with(seedBinding(), "SlimFaasKafka__Bindings__0__MinConsumedDeltaForActivity", "0"),
			wantInterval: 5, wantTimeout: 5, wantHTTP: 10,
			wantRules: wakeRules{1, 30, 60, 1},
		},
		{
			name:         "min pending below 1 cannot be kept",
			env:          with(seedBinding(), "SlimFaasKafka__Bindings__0__MinPendingMessages", "0"),
			wantInterval: 5, wantTimeout: 5, wantHTTP: 10,
			wantRules:    wakeRules{1, 30, 60, 1},
			wantWarnings: []string{"SlimFaasKafka__Bindings__0__MinPendingMessages=0: SlimFaasKafka woke the function on every check"},
		},
		{
			name: "values are trimmed and may carry a sign",
			env: with(seedBinding(), "SlimFaasKafka__Bindings__0__MinPendingMessages", " +5 ",
				"SlimFaasKafka__Bindings__0__CooldownSeconds", "7"),
			wantInterval: 5, wantTimeout: 5, wantHTTP: 10,
			wantRules: wakeRules{5, 7, 60, 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, warnings, err := convert(tt.env)
			require.NoError(t, err)
			assertWarnings(t, tt.wantWarnings, warnings)
			assert.Equal(t, tt.wantInterval, cfg.CollectionIntervalSeconds)
			assert.Equal(t, tt.wantTimeout, cfg.TimeoutSeconds)
			assert.Equal(t, tt.wantHTTP, cfg.HTTPTimeoutSeconds)
			// A single function: its rules are the defaults, with no override.
			assert.Equal(t, tt.wantRules, cfg.Defaults)
			assert.Empty(t, cfg.Functions)
		})
	}
}

func TestConvertRulesPerFunction(t *testing.T) {
	binding := func(index, topic, function string, cooldownSeconds string) []string {
		prefix := "SlimFaasKafka__Bindings__" + index + "__"
		return []string{
			prefix + "Topic", topic, prefix + "ConsumerGroupId", topic + "-group", prefix + "FunctionName", function,
			prefix + "CooldownSeconds", cooldownSeconds,
		}
	}
	env := func(bindings ...[]string) map[string]string {
		out := map[string]string{}
		for _, b := range bindings {
			with(out, b...)
		}
		return out
	}

	t.Run("a value shared by every binding becomes the default", func(t *testing.T) {
		cfg, warnings, err := convert(env(binding("0", "a", "fa", "5"), binding("1", "b", "fb", "5")))
		require.NoError(t, err)
		assert.Empty(t, warnings)
		assert.Equal(t, wakeRules{1, 5, 60, 1}, cfg.Defaults)
		assert.Empty(t, cfg.Functions)
	})
	t.Run("differing values keep SlimFaasKafka's default and override per function", func(t *testing.T) {
		cfg, warnings, err := convert(env(binding("0", "a", "fa", "5"), binding("1", "b", "fb", "30"), binding("2", "c", "fc", "0")))
		require.NoError(t, err)
		assert.Empty(t, warnings)
		assert.Equal(t, wakeRules{1, 30, 60, 1}, cfg.Defaults)
		assert.Equal(t, map[string]ruleOverrides{"fa": {cooldown: 5}, "fc": {cooldown: 0}}, cfg.Functions)
	})
	t.Run("bindings of one function that disagree take the lowest index's rules", func(t *testing.T) {
		// Index 10 sorts before 9 as text: the choice must be numeric.
		cfg, warnings, err := convert(env(binding("10", "a", "f", "5"), binding("9", "b", "f", "7"), binding("11", "c", "g", "30")))
		require.NoError(t, err)
		assertWarnings(t, []string{"there is no binding 0", `SlimFaasKafka__Bindings__9 and SlimFaasKafka__Bindings__10 both wake function "f" with different rules; ` +
			"kafkawake sets rules per function and uses those of SlimFaasKafka__Bindings__9 (MinPendingMessages=1, CooldownSeconds=7,"}, warnings)
		assert.Equal(t, map[string]ruleOverrides{"f": {cooldown: 7}}, cfg.Functions)
		assert.Equal(t, []string{"b", "a", "c"}, topics(cfg.Bindings))
	})
	t.Run("bindings of one function that agree need no warning", func(t *testing.T) {
		cfg, warnings, err := convert(env(binding("0", "a", "f", "5"), binding("1", "b", "f", "5")))
		require.NoError(t, err)
		assert.Empty(t, warnings)
		assert.Equal(t, wakeRules{1, 5, 60, 1}, cfg.Defaults)
		assert.Len(t, cfg.Bindings, 2)
	})
	t.Run("an exact duplicate binding is dropped", func(t *testing.T) {
		cfg, warnings, err := convert(env(binding("0", "a", "f", "5"), binding("1", "a", "f", "5")))
		require.NoError(t, err)
		assertWarnings(t, []string{"SlimFaasKafka__Bindings__1 repeats binding 0"}, warnings)
		assert.Equal(t, []string{"a"}, topics(cfg.Bindings))
	})
}

func topics(bindings []binding) []string {
	var out []string
	for _, b := range bindings {
		out = append(out, b.Topic)
	}
	return out
}

func TestConvertReadsNamesCaseInsensitivelyWithEitherPrefix(t *testing.T) {
	env := map[string]string{
		"slimfaaskafka__bindings__0__topic":           "fibo-public",
		"SLIMKAFKA__BINDINGS__0__CONSUMERGROUPID":     "fibonacci-listener-group",
		"SlimKafka__Bindings__0__FunctionName":        "fibonaccilistener",
		"SlimFaasKafka__Bindings__0__FunctionName":    "fibonaccilistener",
		"SlimKafka__Bindings__0__CooldownSeconds":     "99",
		"slimfaaskafka__BINDINGS__0__cooldownseconds": "12",
		"kafka__bootstrapservers":                     "k1:9092,k2:9092",
		"KAFKA__CLIENTID":                             "monitor",
		"slimfaas__baseurl":                           "http://slimfaas:30021",
		"Logging__LogLevel__Default":                  "Debug",
		"Kafka__SaslUsername":                         "ignored",
	}
	cfg, warnings, err := convert(env)
	require.NoError(t, err)
	assertWarnings(t, []string{
		"Kafka__SaslUsername is not a SlimFaasKafka setting and is ignored",
		"SlimKafka__Bindings__* variables",
		`SlimKafka__Bindings__0__CooldownSeconds="99" is ignored: slimfaaskafka__BINDINGS__0__cooldownseconds="12" takes precedence`,
	}, warnings)
	assert.Equal(t, []string{"k1:9092", "k2:9092"}, cfg.Brokers)
	assert.Equal(t, "monitor", cfg.ClientID)
	assert.Equal(t, "http://slimfaas:30021", cfg.Endpoint)
	assert.Equal(t, []binding{{Source: "slimfaaskafka__bindings__0", Topic: "fibo-public",
		ConsumerGroup: "fibonacci-listener-group", Function: "fibonaccilistener"}}, cfg.Bindings)
	assert.Equal(t, int64(12), cfg.Defaults[cooldown])
}

func TestConvertWakeURL(t *testing.T) {
	tests := []struct {
		name         string
		baseURL      string
		template     string // empty: unset
		wantEndpoint string
		wantWakePath string // empty: the default route
		wantWarnings []string
	}{
		{name: "defaults", wantEndpoint: "http://slimfaas:5000"},
		{name: "trailing slash", baseURL: "http://slimfaas:30021/", wantEndpoint: "http://slimfaas:30021"},
		{name: "placeholder in any case", template: "/wake-function/{FUNCTIONNAME}", wantEndpoint: "http://slimfaas:5000"},
		{
			name: "absolute template drops the base path, as SlimFaasKafka did", baseURL: "https://gw.example/slimfaas",
			wantEndpoint: "https://gw.example",
			wantWarnings: []string{`SlimFaas__BaseUrl="https://gw.example/slimfaas": SlimFaasKafka dropped the path "/slimfaas"`},
		},
		{
			name: "relative template replaces the last base segment", baseURL: "https://gw.example/faas/api", template: "wake-function/{functionName}",
			wantEndpoint: "https://gw.example", wantWakePath: "/faas/wake-function/{functionName}",
			wantWarnings: []string{`wake_path "/faas/wake-function/{functionName}" differs from the route SlimFaas serves`},
		},
		{
			name: "relative template on a bare host", baseURL: "http://slimfaas:5000", template: "wake-function/{functionName}",
			wantEndpoint: "http://slimfaas:5000",
		},
		{
			name: "documented but unserved template is kept with a warning", template: "/functions/{functionName}/wake",
			wantEndpoint: "http://slimfaas:5000", wantWakePath: "/functions/{functionName}/wake",
			wantWarnings: []string{`wake_path "/functions/{functionName}/wake" differs from the route SlimFaas serves, POST /wake-function/{functionName}`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := seedBinding()
			if tt.baseURL != "" {
				env["SlimFaas__BaseUrl"] = tt.baseURL
			}
			if tt.template != "" {
				env["SlimFaas__WakeUpPathTemplate"] = tt.template
			}
			cfg, warnings, err := convert(env)
			require.NoError(t, err)
			assertWarnings(t, tt.wantWarnings, warnings)
			assert.Equal(t, tt.wantEndpoint, cfg.Endpoint)
			assert.Equal(t, tt.wantWakePath, cfg.WakePath)
		})
	}
}

func TestConvertWarnsAboutSettingsWithoutEquivalent(t *testing.T) {
	t.Run("AllowAutoCreateTopics", func(t *testing.T) {
		_, warnings, err := convert(with(seedBinding(), "Kafka__AllowAutoCreateTopics", "false"))
		require.NoError(t, err)
		assertWarnings(t, []string{"Kafka__AllowAutoCreateTopics has no equivalent and is dropped: kafkawake never creates topics"}, warnings)
	})
	t.Run("no binding 0", func(t *testing.T) {
		env := map[string]string{
			"SlimFaasKafka__Bindings__1__Topic": "t", "SlimFaasKafka__Bindings__1__ConsumerGroupId": "g", "SlimFaasKafka__Bindings__1__FunctionName": "f",
		}
		_, warnings, err := convert(env)
		require.NoError(t, err)
		assertWarnings(t, []string{"there is no binding 0: SlimFaasKafka's image has a built-in binding 0 (topic fibonacci1)"}, warnings)
	})
}

func TestYAMLStringReadsBackAsTheSameString(t *testing.T) {
	plain := []string{"fibo-public", "kafka:9092", "http://slimfaas:30021", "orders.v1", "/health"}
	for _, s := range plain {
		assert.Equal(t, s, yamlString(s), "needs no quotes")
	}
	quoted := []string{"", "true", "No", "null", "123", "0.0.0.0:8080", "kafka:", "a b", "g: x", "#x", "a #b", "-x", "{x}",
		"[x]", "*x", "&x", "!x", "|x", ">x", "%x", "@x", "`x", `"x"`, "'x'", "~", "x\ny", "é"}
	for _, s := range quoted {
		assert.True(t, strings.HasPrefix(yamlString(s), `"`), "%q must be quoted", s)
	}
}
