package kafkawakereceiver

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/kafka/configkafka"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/metadata"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/scaling"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	defaults := createDefaultConfig().(*Config)
	custom := createDefaultConfig().(*Config)
	custom.Brokers = []string{"kafka-0:9092", "kafka-1:9092"}
	custom.ClientID = "monitor"
	custom.CollectionInterval = 500 * time.Millisecond
	custom.Timeout = 3 * time.Second
	custom.OffsetReset = OffsetResetLatest
	custom.PendingAge.Method = PendingAgeFetch
	custom.Watch = WatchConfig{Enabled: true, MaxWait: 2 * time.Second}
	custom.Scaling = ScalingConfig{TargetPendingPerReplica: ptr[int64](100), Cap: scaling.CapPartitionsPending, MaxReplicas: 20, RateWindow: 30 * time.Second}
	custom.Bindings = []BindingConfig{
		{Topic: "orders", ConsumerGroup: "orders-group", Function: "processorders"},
		{Topic: "orders", ConsumerGroup: "audit-group", Function: "audit", Scaling: &ScalingOverride{TargetPendingPerReplica: ptr[int64](500), Cap: ptr(scaling.CapNone)}},
		{Topic: "thumbnails", ShareGroup: "thumbnails-queue", Function: "thumbnailer"},
	}
	connection := createDefaultConfig().(*Config)
	connection.Brokers = []string{"b-1.msk.example:9098"}
	connection.ClientID = "monitor"
	connection.ProtocolVersion = "3.7.0"
	connection.ClusterAlias = "eu-prod"
	connection.TLS = &configtls.ClientConfig{Config: configtls.Config{CAFile: "/etc/kafka/ca.pem"}}
	connection.Authentication.SASL = &configkafka.SASLConfig{Mechanism: MechanismScramSHA512, Username: "monitor", Password: "s3cret"}
	connection.Metadata.RefreshInterval = 30 * time.Second
	connection.Metadata.Retry = configkafka.MetadataRetryConfig{Max: 5, Backoff: 100 * time.Millisecond}
	connection.RackID = "eu-west-3a"
	connection.DialTimeout = 3 * time.Second
	connection.ConnIdleTimeout = time.Minute
	connection.UseLeaderEpoch = false
	ordersBinding := []BindingConfig{{Topic: "orders", ConsumerGroup: "orders-group", Function: "processorders"}}
	connection.Bindings = ordersBinding

	mskIAM := createDefaultConfig().(*Config)
	mskIAM.Brokers = []string{"b-1.msk.example:9098"}
	mskIAM.TLS = &configtls.ClientConfig{}
	mskIAM.Authentication.SASL = &configkafka.SASLConfig{Mechanism: MechanismAWSMSKIAM, AWSMSK: configkafka.AWSMSKConfig{Region: "eu-west-3"}}
	mskIAM.Bindings = ordersBinding

	oauthBearer := createDefaultConfig().(*Config)
	oauthBearer.Brokers = []string{"kafka:9093"}
	oauthBearer.TLS = &configtls.ClientConfig{}
	oauthBearer.Authentication.SASL = &configkafka.SASLConfig{Mechanism: MechanismOAuthBearer, OAuthBearerTokenSource: component.MustNewIDWithName("oauth2client", "keycloak")}
	oauthBearer.Bindings = ordersBinding

	defaults.Brokers = []string{"kafka:9092"}
	defaults.Bindings = []BindingConfig{{Topic: "fibo-public", ConsumerGroup: "fibonacci-listener-group", Function: "fibonaccilistener"}}
	replicas := createDefaultConfig().(*Config)
	replicas.Brokers = defaults.Brokers
	replicas.Bindings = defaults.Bindings
	replicas.Coordination = configoptional.Some(CoordinationConfig{Group: "kafkawake-replicas", SessionTimeout: 10 * time.Second, HeartbeatInterval: time.Second, Report: ReportAll})

	tests := []struct {
		id   component.ID
		want *Config
	}{
		{component.NewID(metadata.Type), defaults},
		{component.NewIDWithName(metadata.Type, "custom"), custom},
		{component.NewIDWithName(metadata.Type, "connection"), connection},
		{component.NewIDWithName(metadata.Type, "msk_iam"), mskIAM},
		{component.NewIDWithName(metadata.Type, "oauthbearer"), oauthBearer},
		{component.NewIDWithName(metadata.Type, "replicas"), replicas},
	}
	for _, tt := range tests {
		t.Run(tt.id.String(), func(t *testing.T) {
			cfg := createDefaultConfig()
			sub, err := cm.Sub(tt.id.String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			require.NoError(t, confmap.Validate(cfg))
			assert.Equal(t, tt.want, cfg)
		})
	}
}

func TestABindingsScalingKeysOverrideTheReceivers(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, "custom").String())
	require.NoError(t, err)
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, sub.Unmarshal(cfg))

	assert.Equal(t, scaling.Policy{TargetPerReplica: 100, Cap: scaling.CapPartitionsPending, MaxReplicas: 20}, cfg.scalingFor(0).policy(), "the receiver's keys")
	assert.Equal(t, scaling.Policy{TargetPerReplica: 500, Cap: scaling.CapNone, MaxReplicas: 20}, cfg.scalingFor(1).policy(), "overridden keys, and the receiver's for the others")
	assert.Equal(t, 30*time.Second, cfg.scalingFor(1).window(cfg.CollectionInterval))
}

func TestTheDefaultRateWindowSpansTwoIntervals(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	assert.Equal(t, time.Minute, cfg.Scaling.window(2*time.Second), "a minute at the default interval")
	assert.Equal(t, 10*time.Minute, cfg.Scaling.window(5*time.Minute), "two intervals when they are longer")
}

func TestLoadConfigRefusesOldAndUnknownKeys(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	tests := []struct {
		name    string
		wantErr string
	}{
		{"old_sasl", "sasl: moved to auth.sasl"},
		{"unknown_key", "resolve_canonical_bootstrap_servers_only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub, err := cm.Sub(component.NewIDWithName(metadata.Type, tt.name).String())
			require.NoError(t, err)
			assert.ErrorContains(t, sub.Unmarshal(createDefaultConfig()), tt.wantErr)
		})
	}
}

func TestDefaultConfig(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	assert.Equal(t, 2*time.Second, cfg.CollectionInterval)
	assert.Equal(t, time.Duration(0), cfg.InitialDelay)
	assert.Equal(t, 5*time.Second, cfg.Timeout)
	assert.Equal(t, "otelcol-kafkawake", cfg.ClientID)
	assert.Equal(t, OffsetResetEarliest, cfg.OffsetReset)
	assert.False(t, cfg.Coordination.HasValue(), "without a coordination block every binding is observed")
	// configkafka's defaults for the rest of the connection.
	assert.Equal(t, 10*time.Minute, cfg.Metadata.RefreshInterval)
	assert.Equal(t, 20, cfg.Metadata.Retry.Max)
	assert.Equal(t, 10*time.Second, cfg.DialTimeout)
	assert.Nil(t, cfg.TLS, "plaintext unless tls is set")
	assert.Nil(t, cfg.Authentication.SASL)
	assert.Equal(t, PendingAgeEstimate, cfg.PendingAge.Method)
	assert.Equal(t, WatchConfig{Enabled: false, MaxWait: 5 * time.Second}, cfg.Watch)
	// No default binding and no default broker: both must be configured.
	assert.ErrorContains(t, confmap.Validate(cfg), "brokers must be specified")
	assert.ErrorContains(t, confmap.Validate(cfg), "bindings: must list at least one binding")
}

func TestValidateNamesTheField(t *testing.T) {
	valid := func() *Config {
		cfg := createDefaultConfig().(*Config)
		cfg.Brokers = []string{"kafka:9092"}
		cfg.Bindings = []BindingConfig{{Topic: "t", ConsumerGroup: "g", Function: "f"}}
		return cfg
	}
	require.NoError(t, confmap.Validate(valid()))

	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{"no brokers", func(c *Config) { c.Brokers = nil }, "brokers must be specified"},
		{"blank broker", func(c *Config) { c.Brokers = []string{"kafka:9092", " "} }, "brokers[1]: must not be empty"},
		{"no bindings", func(c *Config) { c.Bindings = nil }, "bindings: must list at least one binding"},
		{"binding without topic", func(c *Config) { c.Bindings[0].Topic = "" }, "bindings[0].topic: must not be empty"},
		{"binding without group", func(c *Config) { c.Bindings[0].ConsumerGroup = "" }, "bindings[0]: needs consumer_group (a consumer group) or share_group"},
		{"binding with both groups", func(c *Config) { c.Bindings[0].ShareGroup = "queue" }, "bindings[0]: sets both consumer_group and share_group"},
		{"one name as a consumer group and a share group", func(c *Config) {
			c.Bindings = append(c.Bindings, BindingConfig{Topic: "other", ShareGroup: c.Bindings[0].ConsumerGroup, Function: "fn"})
		}, `bindings[1].share_group: "g" is bindings[0]'s consumer_group`},
		{"binding without function", func(c *Config) { c.Bindings[0].Function = " " }, "bindings[0].function: must not be empty"},
		{"duplicate binding", func(c *Config) { c.Bindings = append(c.Bindings, c.Bindings[0]) }, "bindings[1]: duplicates bindings[0]"},
		{"zero timeout", func(c *Config) { c.Timeout = 0 }, "timeout: must be positive"},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, "timeout: must be positive"},
		{"unknown offset_reset", func(c *Config) { c.OffsetReset = "newest" }, `offset_reset: must be "earliest" or "latest", got "newest"`},
		{"unknown pending_age.method", func(c *Config) { c.PendingAge.Method = "exact" }, `pending_age.method: must be "estimate", "fetch" or "none", got "exact"`},
		{"zero collection_interval", func(c *Config) { c.CollectionInterval = 0 }, "collection_interval"},
		{"scaling target of 0", func(c *Config) { c.Scaling.TargetPendingPerReplica = ptr[int64](0) }, "scaling.target_pending_per_replica: must be above 0 (leave it out to turn desired_replicas off), got 0"},
		{"unknown scaling.cap", func(c *Config) { c.Scaling.Cap = "brokers" }, `scaling.cap: must be "partitions", "partitions_pending" or "none", got "brokers"`},
		{"negative scaling.max_replicas", func(c *Config) { c.Scaling.MaxReplicas = -1 }, "scaling.max_replicas: must not be negative"},
		{"rate_window under two intervals", func(c *Config) { c.Scaling.RateWindow = 3 * time.Second }, "scaling.rate_window: must be at least two collection intervals (4s), got 3s"},
		{"a binding's negative target", func(c *Config) {
			c.Bindings[0].Scaling = &ScalingOverride{TargetPendingPerReplica: ptr[int64](-5)}
		}, "bindings[0].scaling.target_pending_per_replica: must be above 0"},
		{"a binding's unknown cap", func(c *Config) {
			c.Bindings[0].Scaling = &ScalingOverride{Cap: ptr[scaling.Cap]("members")}
		}, `bindings[0].scaling.cap: must be "partitions", "partitions_pending" or "none", got "members"`},
		{"a binding's rate_window", func(c *Config) {
			c.Bindings[0].Scaling = &ScalingOverride{RateWindow: ptr(time.Second)}
		}, "bindings[0].scaling.rate_window: must be at least two collection intervals (4s), got 1s"},
		{"a binding's negative max_replicas", func(c *Config) {
			c.Bindings[0].Scaling = &ScalingOverride{MaxReplicas: ptr[int64](-2)}
		}, "bindings[0].scaling.max_replicas: must not be negative"},
		{"coordination without group", func(c *Config) { c.Coordination = coordinationBlock("", 10*time.Second, time.Second) }, "coordination.group: must not be empty"},
		{"session_timeout below the brokers' minimum", func(c *Config) { c.Coordination = coordinationBlock("r", 5*time.Second, time.Second) }, "coordination.session_timeout: must be between 6s and 5m0s (the brokers' default bounds), got 5s"},
		{"session_timeout above the brokers' maximum", func(c *Config) { c.Coordination = coordinationBlock("r", 301*time.Second, time.Second) }, "coordination.session_timeout: must be between 6s and 5m0s"},
		{"heartbeat_interval too long", func(c *Config) { c.Coordination = coordinationBlock("r", 6*time.Second, 3*time.Second) }, "coordination.heartbeat_interval: must be positive and at most a third of session_timeout (2s), got 3s"},
		{"zero heartbeat_interval", func(c *Config) { c.Coordination = coordinationBlock("r", 6*time.Second, 0) }, "coordination.heartbeat_interval: must be positive"},
		{"unknown report", func(c *Config) {
			c.Coordination = coordinationBlock("r", 6*time.Second, time.Second)
			c.Coordination.Get().Report = "some"
		}, `coordination.report: must be "all" or "owned", got "some"`},
		{"coordination group is a bound consumer group", func(c *Config) {
			c.Bindings = append(c.Bindings, BindingConfig{Topic: "t2", ConsumerGroup: "r", Function: "f2"})
			c.Coordination = coordinationBlock("r", 6*time.Second, time.Second)
		}, `coordination.group: "r" is also bindings[1].consumer_group`},
		{"coordination group is a bound share group", func(c *Config) {
			c.Bindings = append(c.Bindings, BindingConfig{Topic: "t2", ShareGroup: "r", Function: "f2"})
			c.Coordination = coordinationBlock("r", 6*time.Second, time.Second)
		}, `coordination.group: "r" is also bindings[1].share_group`},
		{"unknown protocol_version", func(c *Config) { c.ProtocolVersion = "0.7.x" }, `invalid protocol version: "0.7.x"`},
		{"zero dial_timeout", func(c *Config) { c.DialTimeout = 0 }, "dial_timeout (0s) must be positive"},
		{"zero conn_idle_timeout", func(c *Config) { c.ConnIdleTimeout = 0 }, "conn_idle_timeout (0s) must be positive"},
		{"negative metadata.retry.max", func(c *Config) { c.Metadata.Retry.Max = -1 }, "metadata::retry::max (-1) must be non-negative"},
		{"unknown mechanism", func(c *Config) { c.Authentication.SASL = &configkafka.SASLConfig{Mechanism: "GSSAPI"} }, "auth::sasl: mechanism should be one of"},
		{"SASL without username", func(c *Config) {
			c.Authentication.SASL = &configkafka.SASLConfig{Mechanism: MechanismScramSHA512, Password: "p"}
		}, "auth::sasl: username is required"},
		{"SASL without password", func(c *Config) {
			c.Authentication.SASL = &configkafka.SASLConfig{Mechanism: MechanismPlain, Username: "u"}
		}, "auth::sasl: password is required"},
		{"MSK IAM without region", func(c *Config) {
			c.Authentication.SASL = &configkafka.SASLConfig{Mechanism: MechanismAWSMSKIAM}
		}, "auth::sasl: region is required for AWS_MSK_IAM_OAUTHBEARER"},
		{"OAUTHBEARER without token source", func(c *Config) {
			c.Authentication.SASL = &configkafka.SASLConfig{Mechanism: MechanismOAuthBearer}
		}, "auth::sasl: oauth2authclient extension is required"},
		{"password with MSK IAM", func(c *Config) {
			c.Authentication.SASL = &configkafka.SASLConfig{Mechanism: MechanismAWSMSKIAM, AWSMSK: configkafka.AWSMSKConfig{Region: "eu-west-3"}, Password: "p"}
		}, `auth.sasl.password: not used by mechanism "AWS_MSK_IAM_OAUTHBEARER"`},
		{"region with SCRAM", func(c *Config) {
			c.Authentication.SASL = &configkafka.SASLConfig{Mechanism: MechanismScramSHA512, Username: "u", Password: "p", AWSMSK: configkafka.AWSMSKConfig{Region: "eu-west-3"}}
		}, `auth.sasl.aws_msk.region: not used by mechanism "SCRAM-SHA-512"`},
		{"token source with PLAIN", func(c *Config) {
			c.Authentication.SASL = &configkafka.SASLConfig{Mechanism: MechanismPlain, Username: "u", Password: "p", OAuthBearerTokenSource: component.MustNewID("oauth2client")}
		}, `auth.sasl.oauthbearer_token_source: not used by mechanism "PLAIN"`},
		{"username with OAUTHBEARER", func(c *Config) {
			c.Authentication.SASL = &configkafka.SASLConfig{Mechanism: MechanismOAuthBearer, OAuthBearerTokenSource: component.MustNewID("oauth2client"), Username: "u"}
		}, `auth.sasl.username: not used by mechanism "OAUTHBEARER"`},
		{"kerberos", func(c *Config) {
			c.Authentication.Kerberos = &configkafka.KerberosConfig{ServiceName: "kafka", Realm: "EXAMPLE.COM", Username: "u", Password: "p"}
		}, "auth.kerberos: not supported by the kafkawake receiver"},
		{"sasl and kerberos", func(c *Config) {
			c.Authentication.SASL = &configkafka.SASLConfig{Mechanism: MechanismPlain, Username: "u", Password: "p"}
			c.Authentication.Kerberos = &configkafka.KerberosConfig{ServiceName: "kafka"}
		}, "only one of sasl or kerberos"},
		{"tls with a key but no certificate", func(c *Config) {
			c.TLS = &configtls.ClientConfig{Config: configtls.Config{KeyFile: "client.key"}}
		}, "tls: TLS configuration must include both certificate and key"},
		{"zero watch.max_wait", func(c *Config) { c.Watch.MaxWait = 0 }, "watch.max_wait: must be above 0 and at most 30s, got 0s"},
		{"watch.max_wait too long", func(c *Config) { c.Watch.MaxWait = time.Minute }, "watch.max_wait: must be above 0 and at most 30s, got 1m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid()
			tt.mutate(cfg)
			assert.ErrorContains(t, confmap.Validate(cfg), tt.wantErr)
		})
	}
}

// TestREADMEExamplesLoad keeps the README's configurations valid: every
// receiver of every YAML block loads and validates.
func TestREADMEExamplesLoad(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
	loaded := 0
	for i, block := range blocks {
		path := filepath.Join(t.TempDir(), fmt.Sprintf("block%d.yaml", i))
		require.NoError(t, os.WriteFile(path, []byte(block[1]), 0o600))
		cm, err := confmaptest.LoadConf(path)
		require.NoError(t, err, "block %d", i)
		receivers, err := cm.Sub("receivers")
		require.NoError(t, err)
		for id := range receivers.ToStringMap() {
			sub, err := receivers.Sub(id)
			require.NoError(t, err)
			cfg := createDefaultConfig()
			require.NoError(t, sub.Unmarshal(cfg), "block %d, %s", i, id)
			require.NoError(t, confmap.Validate(cfg), "block %d, %s", i, id)
			loaded++
		}
	}
	assert.GreaterOrEqual(t, loaded, 7, "the main example and one per provider")
}

func coordinationBlock(group string, session, heartbeat time.Duration) configoptional.Optional[CoordinationConfig] {
	return configoptional.Some(CoordinationConfig{Group: group, SessionTimeout: session, HeartbeatInterval: heartbeat})
}

func ptr[T any](v T) *T { return &v }
