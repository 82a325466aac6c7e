package kafkawakereceiver

import (
	"context"
	"crypto/tls"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/kafka/configkafka"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/kafkawake/kafkawake/internal/kafkatest"
	"github.com/kafkawake/kafkawake/internal/testpki"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/metadata"
)

var adminSASL = kgo.SASL(plain.Auth{User: "admin", Pass: "admin-secret"}.AsMechanism())

func TestSASLMechanisms(t *testing.T) {
	c := kafkatest.NewAs(t, []kgo.Opt{adminSASL},
		kfake.SeedTopics(1, "orders"),
		kfake.EnableSASL(),
		kfake.Superuser("PLAIN", "admin", "admin-secret"),
		kfake.User("PLAIN", "plain-monitor", "p1"),
		kfake.User("SCRAM-SHA-256", "scram256-monitor", "p2"),
		kfake.User("SCRAM-SHA-512", "scram512-monitor", "p3"),
	)
	c.Produce("orders", 0, 4)

	tests := []struct{ mechanism, user, password string }{
		{MechanismPlain, "plain-monitor", "p1"},
		{MechanismScramSHA256, "scram256-monitor", "p2"},
		{MechanismScramSHA512, "scram512-monitor", "p3"},
	}
	for _, tt := range tests {
		t.Run(tt.mechanism, func(t *testing.T) {
			s, _ := startScraperWith(t, func(cfg *Config) {
				cfg.Brokers = c.Kfake.ListenAddrs()
				cfg.Authentication.SASL = &configkafka.SASLConfig{Mechanism: tt.mechanism, Username: tt.user, Password: "hunter2-wrong"}
				cfg.Bindings = []BindingConfig{{Topic: "orders", ConsumerGroup: "g", Function: "f"}}
			})
			// Wrong credentials: an error in the scrape, no point, no crash.
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			defer cancel()
			md, err := s.scrape(ctx)
			require.Error(t, err)
			// kfake closes the connection on bad credentials; the retries
			// that follow may end on the deadline instead of the EOF.
			if strings.Contains(err.Error(), "EOF") {
				assert.ErrorContains(t, err, "check the SASL mechanism, username and password")
			}
			assert.NotContains(t, err.Error(), "hunter2-wrong", "credentials must never appear in errors")
			assert.False(t, pointsByFunction(t, md).has(pendingName, "f"))

			s, _ = startScraperWith(t, func(cfg *Config) {
				cfg.Brokers = c.Kfake.ListenAddrs()
				cfg.Authentication.SASL = &configkafka.SASLConfig{Mechanism: tt.mechanism, Username: tt.user, Password: tt.password}
				cfg.Bindings = []BindingConfig{{Topic: "orders", ConsumerGroup: "g", Function: "f"}}
			})
			assert.Equal(t, int64(4), scrapeOK(t, c, s).intValue(t, pendingName, "f"))
		})
	}
}

func TestGroupOffsetsNotAuthorizedFallsBackToProducedMessages(t *testing.T) {
	describe := func(resource kmsg.ACLResourceType, name string) kfake.ACL {
		return kfake.ACL{Resource: resource, Name: name, Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: kmsg.ACLOperationDescribe, Allow: true}
	}
	c := kafkatest.NewAs(t, []kgo.Opt{adminSASL},
		kfake.SeedTopics(2, "orders", "secret"),
		kfake.EnableSASL(),
		kfake.EnableACLs(),
		kfake.Superuser("PLAIN", "admin", "admin-secret"),
		kfake.User("PLAIN", "monitor", "monitor-secret",
			describe(kmsg.ACLResourceTypeTopic, "orders"),
			describe(kmsg.ACLResourceTypeGroup, "allowed"),
		),
	)
	c.Produce("orders", 0, 10)
	c.Produce("secret", 0, 10)
	c.Commit("allowed", "orders", 0, 4)
	c.Commit("denied", "orders", 0, 4)

	core, logs := observer.New(zapcore.InfoLevel)
	s, clock := startScraperWith(t, func(cfg *Config) {
		cfg.Brokers = c.Kfake.ListenAddrs()
		cfg.Authentication.SASL = &configkafka.SASLConfig{Mechanism: MechanismPlain, Username: "monitor", Password: "monitor-secret"}
		cfg.Bindings = []BindingConfig{
			{Topic: "orders", ConsumerGroup: "allowed", Function: "allowed"},
			{Topic: "orders", ConsumerGroup: "denied", Function: "denied"},
			{Topic: "secret", ConsumerGroup: "allowed", Function: "secret"},
		}
	})
	s.logger = zap.New(core)

	scrape := func() bindingPoints {
		md, err := s.scrape(c.Ctx())
		require.Error(t, err, "the unauthorized topic must be reported")
		assert.ErrorContains(t, err, `topic "secret" is not authorized`)
		clock.Advance(2 * time.Second)
		return pointsByFunction(t, md)
	}

	pts := scrape()
	assert.Equal(t, int64(6), pts.intValue(t, pendingName, "allowed"), "one unauthorized topic must not hide the others")
	assert.False(t, pts.has(pendingName, "secret"), "an unauthorized topic is an error, never 0")
	assert.Equal(t, int64(0), pts.intValue(t, pendingName, "denied"), "the first scrape without group offsets is a baseline")

	c.Produce("orders", 0, 3)
	c.Produce("orders", 1, 2)
	pts = scrape()
	assert.Equal(t, int64(5), pts.intValue(t, pendingName, "denied"), "new messages still wake the function")
	assert.Equal(t, int64(11), pts.intValue(t, pendingName, "allowed"))
	// Without Describe on the group its members are unknown: no
	// group_members point, and the status is decided from consumption.
	assert.False(t, pts.has(membersName, "denied"))
	assert.Equal(t, "waiting", pts.status(t, "denied"), "work, and nothing consumed over the window")
	assert.Equal(t, int64(0), pts.intValue(t, membersName, "allowed"))

	pts = scrape()
	assert.Equal(t, int64(0), pts.intValue(t, pendingName, "denied"), "old messages do not wake it forever")

	fallbackLogs := logs.FilterMessageSnippet("falls back").FilterField(zap.String("function", "denied"))
	assert.Equal(t, 1, fallbackLogs.Len(), "the fallback is logged once per change, not every scrape")
	membersLogs := logs.FilterMessageSnippet("members are unknown").FilterField(zap.String("function", "denied"))
	require.Equal(t, 1, membersLogs.Len(), "logged once")
	assert.Contains(t, fmt.Sprint(membersLogs.All()[0].ContextMap()["error"]), "grant Describe on the group")
	secretLogs := logs.FilterMessageSnippet("Cannot read").FilterField(zap.String("function", "secret"))
	assert.Equal(t, 1, secretLogs.Len())
}

func TestTLSAndMutualTLS(t *testing.T) {
	pki := testpki.New(t)
	tests := []struct {
		name       string
		clientAuth tls.ClientAuthType
		clientTLS  configtls.ClientConfig
	}{
		{"server TLS", tls.NoClientCert, configtls.ClientConfig{Config: configtls.Config{CAFile: pki.CAFile}}},
		{"mutual TLS", tls.RequireAndVerifyClientCert, configtls.ClientConfig{Config: configtls.Config{
			CAFile: pki.CAFile, CertFile: pki.ClientCertFile, KeyFile: pki.ClientKeyFile,
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			serverTLS := &tls.Config{
				Certificates: []tls.Certificate{pki.ServerCert},
				ClientAuth:   tt.clientAuth,
				ClientCAs:    pki.Pool,
				MinVersion:   tls.VersionTLS12,
			}
			adminTLS := kgo.DialTLSConfig(&tls.Config{RootCAs: pki.Pool, Certificates: []tls.Certificate{pki.ClientCert}, MinVersion: tls.VersionTLS12})
			c := kafkatest.NewAs(t, []kgo.Opt{adminTLS}, kfake.SeedTopics(1, "orders"), kfake.TLS(serverTLS))
			c.Produce("orders", 0, 3)

			s, _ := startScraperWith(t, func(cfg *Config) {
				cfg.Brokers = c.Kfake.ListenAddrs()
				cfg.TLS = &tt.clientTLS
				cfg.Bindings = []BindingConfig{{Topic: "orders", ConsumerGroup: "g", Function: "f"}}
			})
			assert.Equal(t, int64(3), scrapeOK(t, c, s).intValue(t, pendingName, "f"))

			// Without TLS the handshake fails: an error, not a 0.
			plaintext, _ := startScraperWith(t, func(cfg *Config) {
				cfg.Brokers = c.Kfake.ListenAddrs()
				cfg.Timeout = time.Second
				cfg.Bindings = []BindingConfig{{Topic: "orders", ConsumerGroup: "g", Function: "f"}}
			})
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			defer cancel()
			md, err := plaintext.scrape(ctx)
			require.Error(t, err)
			assert.False(t, pointsByFunction(t, md).has(pendingName, "f"))
		})
	}
}

func TestTLSConfigErrorFailsStart(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Brokers = []string{"127.0.0.1:9092"}
	cfg.Bindings = []BindingConfig{{Topic: "t", ConsumerGroup: "g", Function: "f"}}
	cfg.TLS = &configtls.ClientConfig{Config: configtls.Config{CAFile: filepath.Join(t.TempDir(), "missing-ca.pem")}}
	s := newKafkaScraper(cfg, receivertest.NewNopSettings(metadata.Type))
	err := s.start(t.Context(), nil)
	require.Error(t, err)
	assert.ErrorContains(t, err, "tls:")
}
