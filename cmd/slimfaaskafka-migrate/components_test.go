package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"

	"github.com/kafkawake/kafkawake/processor/slimfaaswakeprocessor"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver"
)

// loadComponents reads the generated YAML the way the collector does and
// unmarshals and validates the kafkawake sections into the real component
// configurations.
func loadComponents(t *testing.T, yaml []byte) (*confmap.Conf, *kafkawakereceiver.Config, *slimfaaswakeprocessor.Config) {
	t.Helper()
	retrieved, err := confmap.NewRetrievedFromYAML(yaml)
	require.NoError(t, err)
	conf, err := retrieved.AsConf()
	require.NoError(t, err)

	receiverCfg := kafkawakereceiver.NewFactory().CreateDefaultConfig().(*kafkawakereceiver.Config)
	receiverConf, err := conf.Sub("receivers::kafkawake")
	require.NoError(t, err)
	require.NoError(t, receiverConf.Unmarshal(receiverCfg))
	require.NoError(t, confmap.Validate(receiverCfg))

	processorCfg := slimfaaswakeprocessor.NewFactory().CreateDefaultConfig().(*slimfaaswakeprocessor.Config)
	processorConf, err := conf.Sub("processors::slimfaaswake")
	require.NoError(t, err)
	require.NoError(t, processorConf.Unmarshal(processorCfg))
	require.NoError(t, confmap.Validate(processorCfg))
	return conf, receiverCfg, processorCfg
}

func seconds(n int64) time.Duration { return time.Duration(n) * time.Second }

// assertComponentsMatch checks that the collector reads back what the converter meant.
func assertComponentsMatch(t *testing.T, want collectorConfig, receiverCfg *kafkawakereceiver.Config, processorCfg *slimfaaswakeprocessor.Config) {
	t.Helper()
	assert.Equal(t, want.Brokers, receiverCfg.Brokers)
	assert.Equal(t, want.ClientID, receiverCfg.ClientID)
	assert.Equal(t, seconds(want.CollectionIntervalSeconds), receiverCfg.CollectionInterval)
	assert.Equal(t, seconds(want.TimeoutSeconds), receiverCfg.Timeout)
	assert.Equal(t, kafkawakereceiver.OffsetResetEarliest, receiverCfg.OffsetReset)
	require.Len(t, receiverCfg.Bindings, len(want.Bindings))
	for i, b := range want.Bindings {
		got := receiverCfg.Bindings[i]
		assert.Equal(t, []string{b.Topic, b.ConsumerGroup, b.Function}, []string{got.Topic, got.ConsumerGroup, got.Function})
	}

	assert.Equal(t, want.Endpoint, processorCfg.ClientConfig.Endpoint)
	wantPath := want.WakePath
	if wantPath == "" {
		wantPath = defaultWakePath
	}
	assert.Equal(t, wantPath, processorCfg.WakePath)
	assert.Equal(t, seconds(want.HTTPTimeoutSeconds), processorCfg.ClientConfig.Timeout)
	assert.Equal(t, want.Defaults, rulesOf(processorCfg.Defaults))
	require.Len(t, processorCfg.Functions, len(want.Functions))
	for function, overrides := range want.Functions {
		got, ok := processorCfg.Functions[function]
		require.True(t, ok, "function %q", function)
		assert.Equal(t, overrides, overridesOf(got), "function %q", function)
	}
}

func rulesOf(r slimfaaswakeprocessor.WakeRules) wakeRules {
	return wakeRules{
		minPendingMessages: r.MinPendingMessages,
		cooldown:           int64(r.Cooldown / time.Second),
		activityKeepAlive:  int64(r.ActivityKeepAlive / time.Second),
		minConsumedDelta:   r.MinConsumedDelta,
	}
}

func overridesOf(o slimfaaswakeprocessor.WakeRuleOverrides) ruleOverrides {
	out := ruleOverrides{}
	if o.MinPendingMessages != nil {
		out[minPendingMessages] = *o.MinPendingMessages
	}
	if o.Cooldown != nil {
		out[cooldown] = int64(*o.Cooldown / time.Second)
	}
	if o.ActivityKeepAlive != nil {
		out[activityKeepAlive] = int64(*o.ActivityKeepAlive / time.Second)
	}
	if o.MinConsumedDelta != nil {
		out[minConsumedDelta] = *o.MinConsumedDelta
	}
	return out
}

func TestGeneratedConfigIsAValidKafkawakeConfig(t *testing.T) {
	for _, tt := range goldenCases {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, err := convert(readEnvFile(t, tt.name))
			require.NoError(t, err)
			conf, receiverCfg, processorCfg := loadComponents(t, cfg.YAML())
			assertComponentsMatch(t, cfg, receiverCfg, processorCfg)

			// The parts that keep SlimFaasKafka's scrape target and wire the pipeline.
			assert.Equal(t, "0.0.0.0:8080", conf.Get("exporters::prometheus::endpoint"))
			assert.Equal(t, "/health", conf.Get("extensions::health_check::path"))
			assert.Equal(t, []any{"health_check"}, conf.Get("service::extensions"))
			assert.Equal(t, map[string]any{
				"receivers":  []any{"kafkawake"},
				"processors": []any{"slimfaaswake"},
				"exporters":  []any{"prometheus"},
			}, conf.Get("service::pipelines::metrics"))
		})
	}
}

// Names that YAML would misread unquoted must reach the components intact.
func TestGeneratedConfigKeepsAwkwardNames(t *testing.T) {
	env := map[string]string{
		"Kafka__BootstrapServers":                     "10.0.0.1:9092,kafka-1:9092",
		"Kafka__ClientId":                             "yes",
		"SlimFaas__BaseUrl":                           "https://user:p%40ss@slimfaas:5000",
		"SlimFaas__WakeUpPathTemplate":                "/wake-function/{functionName}?source=kafka #1",
		"SlimFaasKafka__Bindings__0__Topic":           "123",
		"SlimFaasKafka__Bindings__0__ConsumerGroupId": `group: "a", #b 'c' é`,
		"SlimFaasKafka__Bindings__0__FunctionName":    "null",
		"SlimFaasKafka__Bindings__0__CooldownSeconds": "1",
		"SlimFaasKafka__Bindings__1__Topic":           "[x]",
		"SlimFaasKafka__Bindings__1__ConsumerGroupId": "{y}",
		"SlimFaasKafka__Bindings__1__FunctionName":    "true",
	}
	cfg, _, err := convert(env)
	require.NoError(t, err)
	require.Equal(t, map[string]ruleOverrides{"null": {cooldown: 1}}, cfg.Functions)
	_, receiverCfg, processorCfg := loadComponents(t, cfg.YAML())
	assertComponentsMatch(t, cfg, receiverCfg, processorCfg)
}
