package reliability

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/kafka/configkafka"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configtls"
	"go.uber.org/zap/zaptest/observer"

	"github.com/kafkawake/kafkawake/internal/kafkatest"
	"github.com/kafkawake/kafkawake/internal/oauthbearertest"
	"github.com/kafkawake/kafkawake/internal/slimfaastest"
	"github.com/kafkawake/kafkawake/internal/testpki"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver"
)

const (
	saslPassword = "kafka-pw-7f3a9c"
	wakeToken    = "wake-token-51e0bd"
)

// requireNoSecret fails when any log line, at any level, carries a secret
// in its message or fields.
func requireNoSecret(t *testing.T, logs *observer.ObservedLogs, secrets ...string) {
	t.Helper()
	for _, e := range logs.All() {
		text := e.Message
		for k, v := range e.ContextMap() {
			text += " " + k + "=" + toString(v)
		}
		for _, secret := range secrets {
			require.NotContains(t, text, secret, "secret in a %s log line", e.Level)
		}
	}
}

func toString(v any) string { return fmt.Sprint(v) }

func TestCredentialsNeverLogged(t *testing.T) {
	k := kafkatest.New(t, kfake.SeedTopics(1, "orders"),
		kfake.EnableSASL(),
		kfake.Superuser("PLAIN", "admin", "admin-pw"),
		kfake.User("SCRAM-SHA-512", "monitor", saslPassword),
	)
	admin, err := kgo.NewClient(kgo.SeedBrokers(k.Kfake.ListenAddrs()...), kgo.DisableClientMetrics(),
		kgo.SASL(plain.Auth{User: "admin", Pass: "admin-pw"}.AsMechanism()))
	require.NoError(t, err)
	defer admin.Close()
	require.NoError(t, admin.ProduceSync(t.Context(), &kgo.Record{Topic: "orders", Value: []byte("m")}).FirstErr())

	var authHeaders []string
	wake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		authHeaders = append(authHeaders, r.Header.Get("Authorization"))
		w.WriteHeader(http.StatusInternalServerError) // failures log the most
	}))
	defer wake.Close()

	for _, password := range []string{saslPassword, "wrong-" + saslPassword} {
		rcfg := receiverConfig(k.Kfake.ListenAddrs(), kafkawakereceiver.BindingConfig{Topic: "orders", ConsumerGroup: "g", Function: "f"})
		rcfg.Authentication.SASL = &configkafka.SASLConfig{Mechanism: kafkawakereceiver.MechanismScramSHA512, Username: "monitor", Password: password}
		pcfg := processorConfig(wake.URL)
		pcfg.ClientConfig.Headers = configopaque.MapList{{Name: "Authorization", Value: configopaque.String("Bearer " + wakeToken)}}
		p := startPipeline(t, rcfg, pcfg)
		p.waitBatches(t, 6)
		p.stop()
		requireNoSecret(t, p.logs, saslPassword, wakeToken)
	}
	assert.NotEmpty(t, authHeaders, "the correct password read the offsets and the processor called SlimFaas")
	assert.Equal(t, "Bearer "+wakeToken, authHeaders[0], "configured headers are sent")
}

func TestTokensNeverLogged(t *testing.T) {
	const (
		accessToken     = "oauth-access-token-2e9b41"
		secretAccessKey = "aws-secret-key-8c03fa"
		sessionToken    = "aws-session-token-d71e52"
	)
	oauthbearertest.SetAWSCredentials(t, "AKIAKAFKAWAKELOGTEST", secretAccessKey, sessionToken)

	tokenSource := component.MustNewID("oauth2client")
	host := oauthbearertest.Host{tokenSource: &oauthbearertest.TokenSource{AccessToken: accessToken}}
	mechanisms := []*configkafka.SASLConfig{
		{Mechanism: kafkawakereceiver.MechanismOAuthBearer, OAuthBearerTokenSource: tokenSource},
		{Mechanism: kafkawakereceiver.MechanismAWSMSKIAM, AWSMSK: configkafka.AWSMSKConfig{Region: "eu-west-3"}},
	}
	for _, mechanism := range mechanisms {
		t.Run(mechanism.Mechanism, func(t *testing.T) {
			k := kafkatest.New(t, kfake.SeedTopics(1, "orders"))
			k.Produce("orders", 0, 3)
			broker := oauthbearertest.Script(k.Kfake)
			// A missing topic and a failing SlimFaas log warnings every few scrapes.
			rcfg := receiverConfig(k.Kfake.ListenAddrs(),
				kafkawakereceiver.BindingConfig{Topic: "orders", ConsumerGroup: "g", Function: "f"},
				kafkawakereceiver.BindingConfig{Topic: "missing", ConsumerGroup: "g", Function: "m"})
			rcfg.Authentication.SASL = mechanism
			sf := slimfaastest.New(t)
			sf.Script(func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(http.StatusInternalServerError) })
			p := startPipelineOn(t, host, rcfg, processorConfig(sf.URL))
			p.waitBatches(t, 6)
			p.stop()
			require.NotEmpty(t, p.pendingValues("f"), "the client authenticated and read the offsets")
			require.NotEmpty(t, p.logs.FilterMessageSnippet("Cannot read the binding's offsets").All())
			secrets := append([]string{accessToken, secretAccessKey, sessionToken}, broker.Tokens()...)
			requireNoSecret(t, p.logs, secrets...)
		})
	}
}

func TestTLSVerificationIsOnByDefault(t *testing.T) {
	pki := testpki.New(t)
	k := kafkatest.New(t, kfake.SeedTopics(1, "orders"), kfake.TLS(&tls.Config{Certificates: []tls.Certificate{pki.ServerCert}, MinVersion: tls.VersionTLS12}))

	// tls: {} without a CA: the broker's certificate is not trusted.
	rcfg := receiverConfig(k.Kfake.ListenAddrs(), kafkawakereceiver.BindingConfig{Topic: "orders", ConsumerGroup: "g", Function: "f"})
	rcfg.TLS = &configtls.ClientConfig{}
	sf := slimfaastest.New(t)
	p := startPipeline(t, rcfg, processorConfig(sf.URL))
	p.waitBatches(t, 3)
	assert.Empty(t, p.pendingValues("f"), "an unverified broker is never read")
	assert.Zero(t, sf.CallsFor("f"))
	warnings := p.logs.FilterMessageSnippet("Cannot read the binding's offsets").All()
	require.NotEmpty(t, warnings)
	assert.Contains(t, toString(warnings[0].ContextMap()["error"]), "certificate")

	// The processor verifies SlimFaas's certificate too.
	untrusted := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer untrusted.Close()
	k2 := kafkatest.New(t, kfake.SeedTopics(1, "orders"))
	k2.Produce("orders", 0, 2)
	p2 := startPipeline(t, receiverConfig(k2.Kfake.ListenAddrs(), kafkawakereceiver.BindingConfig{Topic: "orders", ConsumerGroup: "g", Function: "f"}),
		processorConfig(untrusted.URL))
	require.Eventually(t, func() bool { return p2.counter("slimfaaskafka.wake_failures", "f") > 0 }, 30*time.Second, 10*time.Millisecond)
	assert.Zero(t, p2.counter("slimfaaskafka.wakeups", "f"))
	failed := p2.logs.FilterMessage("Wake attempt failed").All()
	require.NotEmpty(t, failed)
	assert.Contains(t, toString(failed[0].ContextMap()["error"]), "certificate")
}

func TestAuthenticationFailureIsAnErrorNotZero(t *testing.T) {
	k := kafkatest.New(t, kfake.SeedTopics(1, "orders"), kfake.EnableSASL(), kfake.Superuser("PLAIN", "admin", "admin-pw"))
	rcfg := receiverConfig(k.Kfake.ListenAddrs(), kafkawakereceiver.BindingConfig{Topic: "orders", ConsumerGroup: "g", Function: "f"})
	rcfg.Authentication.SASL = &configkafka.SASLConfig{Mechanism: kafkawakereceiver.MechanismPlain, Username: "admin", Password: "not-the-password"}
	sf := slimfaastest.New(t)
	p := startPipeline(t, rcfg, processorConfig(sf.URL))
	p.waitBatches(t, 3)
	assert.Empty(t, p.pendingValues("f"))
	assert.Zero(t, sf.CallsFor("f"))
	assert.NotEmpty(t, p.logs.FilterMessageSnippet("Cannot read the binding's offsets").All())
}

func TestNoTopicAutoCreation(t *testing.T) {
	k := kafkatest.New(t, kfake.SeedTopics(1, "orders"), kfake.AllowAutoTopicCreation())
	sf := slimfaastest.New(t)
	p := startPipeline(t, receiverConfig(k.Kfake.ListenAddrs(),
		kafkawakereceiver.BindingConfig{Topic: "misspelled-orders", ConsumerGroup: "g", Function: "f"}), processorConfig(sf.URL))
	p.waitBatches(t, 4)
	topics, err := k.Adm.ListTopics(t.Context())
	require.NoError(t, err)
	assert.False(t, topics.Has("misspelled-orders"), "a cluster that allows auto creation must not get the topic from the receiver")
	assert.Empty(t, p.pendingValues("f"))
}
