package kafkawakereceiver

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/kafka/configkafka"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/kafkawake/kafkawake/internal/kafkatest"
	"github.com/kafkawake/kafkawake/internal/oauthbearertest"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/metadata"
)

var tokenSourceID = component.MustNewID("oauth2client")

func TestOAuthBearerSendsTheExtensionsToken(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(1, "orders"))
	c.Produce("orders", 0, 5)
	broker := oauthbearertest.Script(c.Kfake)

	host := oauthbearertest.Host{tokenSourceID: &oauthbearertest.TokenSource{AccessToken: "eyJ.test-access-token.sig"}}
	s, _ := startScraperOn(t, host, func(cfg *Config) {
		cfg.Brokers = c.Kfake.ListenAddrs()
		cfg.Authentication.SASL = &configkafka.SASLConfig{Mechanism: MechanismOAuthBearer, OAuthBearerTokenSource: tokenSourceID}
		cfg.Bindings = []BindingConfig{{Topic: "orders", ConsumerGroup: "g", Function: "f"}}
	})
	assert.Equal(t, int64(5), scrapeOK(t, c, s).intValue(t, pendingName, "f"))

	messages := broker.Messages()
	require.NotEmpty(t, messages, "every connection authenticates")
	for _, m := range messages {
		assert.Equal(t, "n,,\x01auth=Bearer eyJ.test-access-token.sig\x01\x01", m)
	}
}

func TestOAuthBearerTokenSourceMustBeAnExtensionWithTokens(t *testing.T) {
	tests := []struct {
		name    string
		host    component.Host
		wantErr string
	}{
		{"extension not running", componenttest.NewNopHost(), `auth.sasl: oauthbearer_token_source: extension "oauth2client" is not running`},
		{"not a token source", oauthbearertest.Host{tokenSourceID: struct {
			component.StartFunc
			component.ShutdownFunc
		}{}}, `auth.sasl: oauthbearer_token_source: extension "oauth2client" does not provide tokens`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			cfg.Brokers = []string{"127.0.0.1:9092"}
			cfg.Bindings = []BindingConfig{{Topic: "t", ConsumerGroup: "g", Function: "f"}}
			cfg.Authentication.SASL = &configkafka.SASLConfig{Mechanism: MechanismOAuthBearer, OAuthBearerTokenSource: tokenSourceID}
			s := newKafkaScraper(cfg, receivertest.NewNopSettings(metadata.Type))
			assert.ErrorContains(t, s.start(t.Context(), tt.host), tt.wantErr)
		})
	}
}

// Static test credentials, read by the AWS default chain from the environment.
const (
	testAccessKeyID     = "AKIAKAFKAWAKETEST01"
	testSecretAccessKey = "kafkawake-test-secret-key-7b1d"
	testSessionToken    = "kafkawake-test-session-token-4c2e"
)

func TestAWSMSKIAMSendsASignedConnectToken(t *testing.T) {
	oauthbearertest.SetAWSCredentials(t, testAccessKeyID, testSecretAccessKey, testSessionToken)
	c := kafkatest.New(t, kfake.SeedTopics(1, "orders"))
	c.Produce("orders", 0, 2)
	broker := oauthbearertest.Script(c.Kfake)

	s, _ := startScraperWith(t, func(cfg *Config) {
		cfg.Brokers = c.Kfake.ListenAddrs()
		cfg.Authentication.SASL = &configkafka.SASLConfig{Mechanism: MechanismAWSMSKIAM, AWSMSK: configkafka.AWSMSKConfig{Region: "eu-west-3"}}
		cfg.Bindings = []BindingConfig{{Topic: "orders", ConsumerGroup: "g", Function: "f"}}
	})
	assert.Equal(t, int64(2), scrapeOK(t, c, s).intValue(t, pendingName, "f"))

	tokens := broker.Tokens()
	require.NotEmpty(t, tokens)
	for _, token := range tokens {
		require.NotEmpty(t, token, "the message has the OAUTHBEARER form: %q", broker.Messages())
		raw, err := base64.RawURLEncoding.DecodeString(token)
		require.NoError(t, err, "the token is base64url without padding")
		signed, err := url.Parse(string(raw))
		require.NoError(t, err)
		q := signed.Query()
		assert.Equal(t, "https", signed.Scheme)
		assert.Equal(t, "kafka.eu-west-3.amazonaws.com", signed.Host)
		assert.Equal(t, "kafka-cluster:Connect", q.Get("Action"))
		assert.Equal(t, "AWS4-HMAC-SHA256", q.Get("X-Amz-Algorithm"))
		assert.Equal(t, testSessionToken, q.Get("X-Amz-Security-Token"))
		assert.Equal(t, "host", q.Get("X-Amz-SignedHeaders"))
		assert.Regexp(t, `^[0-9a-f]{64}$`, q.Get("X-Amz-Signature"))
		signedAt, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
		require.NoError(t, err)
		assert.Equal(t, testAccessKeyID+"/"+signedAt.Format("20060102")+"/eu-west-3/kafka-cluster/aws4_request", q.Get("X-Amz-Credential"))
		assert.Equal(t, q.Get("X-Amz-Signature"), presignConnect(t, "eu-west-3", q.Get("X-Amz-Expires"), signedAt),
			"signed with the secret key of the environment")
	}
}

// presignConnect signs the MSK Connect request independently, to check the
// token's signature.
func presignConnect(t *testing.T, region, expires string, at time.Time) string {
	t.Helper()
	query := url.Values{"Action": {"kafka-cluster:Connect"}, "X-Amz-Expires": {expires}}
	req, err := http.NewRequest(http.MethodGet, "https://kafka."+region+".amazonaws.com/?"+query.Encode(), http.NoBody)
	require.NoError(t, err)
	creds := aws.Credentials{AccessKeyID: testAccessKeyID, SecretAccessKey: testSecretAccessKey, SessionToken: testSessionToken}
	const emptyPayloadSHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	signed, _, err := v4.NewSigner().PresignHTTP(t.Context(), creds, req, emptyPayloadSHA256, "kafka-cluster", region, at)
	require.NoError(t, err)
	u, err := url.Parse(signed)
	require.NoError(t, err)
	return u.Query().Get("X-Amz-Signature")
}

func TestAWSMSKIAMWithoutCredentialsIsAScrapeError(t *testing.T) {
	oauthbearertest.SetAWSCredentials(t, "", "", "")
	c := kafkatest.New(t, kfake.SeedTopics(1, "orders"))
	oauthbearertest.Script(c.Kfake)

	s, _ := startScraperWith(t, func(cfg *Config) {
		cfg.Brokers = c.Kfake.ListenAddrs()
		cfg.Timeout = time.Second
		cfg.Authentication.SASL = &configkafka.SASLConfig{Mechanism: MechanismAWSMSKIAM, AWSMSK: configkafka.AWSMSKConfig{Region: "eu-west-3"}}
		cfg.Bindings = []BindingConfig{{Topic: "orders", ConsumerGroup: "g", Function: "f"}}
	})
	md, err := s.scrape(c.Ctx())
	assert.ErrorContains(t, err, "signing the MSK IAM token for region eu-west-3 with the AWS default credential chain")
	assert.False(t, pointsByFunction(t, md).has(pendingName, "f"), "no credentials is an error, never 0")
}
