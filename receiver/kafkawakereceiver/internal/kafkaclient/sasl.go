package kafkaclient

import (
	"context"
	"fmt"

	"github.com/aws/aws-msk-iam-sasl-signer-go/signer"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/kafka/configkafka"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"go.opentelemetry.io/collector/component"
	"golang.org/x/oauth2"
)

// SASL mechanisms of auth.sasl.mechanism.
const (
	MechanismPlain       = "PLAIN"
	MechanismScramSHA256 = "SCRAM-SHA-256"
	MechanismScramSHA512 = "SCRAM-SHA-512"
	MechanismAWSMSKIAM   = "AWS_MSK_IAM_OAUTHBEARER"
	MechanismOAuthBearer = "OAUTHBEARER"
)

// tokenSource is what the extension named by oauthbearer_token_source
// implements, as contrib's oauth2client extension does.
type tokenSource interface {
	Token(context.Context) (*oauth2.Token, error)
}

func saslMechanism(ctx context.Context, cfg *configkafka.SASLConfig, host component.Host) (sasl.Mechanism, error) {
	switch cfg.Mechanism {
	case MechanismPlain:
		return plain.Auth{User: cfg.Username, Pass: cfg.Password}.AsMechanism(), nil
	case MechanismScramSHA256:
		return scram.Auth{User: cfg.Username, Pass: cfg.Password}.AsSha256Mechanism(), nil
	case MechanismScramSHA512:
		return scram.Auth{User: cfg.Username, Pass: cfg.Password}.AsSha512Mechanism(), nil
	case MechanismAWSMSKIAM:
		return awsMSKIAM(ctx, cfg.AWSMSK.Region)
	case MechanismOAuthBearer:
		return oauthBearer(cfg.OAuthBearerTokenSource, host)
	default:
		// Validate refuses it first; kept so that a mechanism added to
		// configkafka is never ignored.
		return nil, fmt.Errorf("mechanism %q is not supported", cfg.Mechanism)
	}
}

// awsMSKIAM signs, for every new connection, a token for the MSK cluster of
// region with the credentials of the AWS default chain (environment, shared
// files, web identity, container or instance role). The chain is resolved
// once, so cached credentials are reused until they near expiry.
func awsMSKIAM(ctx context.Context, region string) (sasl.Mechanism, error) {
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(region))
	if err != nil {
		return nil, fmt.Errorf("%s: loading the AWS configuration: %w", MechanismAWSMSKIAM, err)
	}
	return oauth.Oauth(func(ctx context.Context) (oauth.Auth, error) {
		token, _, err := signer.GenerateAuthTokenFromCredentialsProvider(ctx, region, awsCfg.Credentials)
		if err != nil {
			return oauth.Auth{}, fmt.Errorf("signing the MSK IAM token for region %s with the AWS default credential chain: %w", region, err)
		}
		return oauth.Auth{Token: token}, nil
	}), nil
}

// oauthBearer asks the extension id for a token on every new connection; the
// extension caches and refreshes it.
func oauthBearer(id component.ID, host component.Host) (sasl.Mechanism, error) {
	var ext component.Component
	if host != nil {
		ext = host.GetExtensions()[id]
	}
	if ext == nil {
		return nil, fmt.Errorf("oauthbearer_token_source: extension %q is not running: configure it under extensions and list it in service.extensions", id)
	}
	source, ok := ext.(tokenSource)
	if !ok {
		return nil, fmt.Errorf("oauthbearer_token_source: extension %q does not provide tokens (no Token(ctx) (*oauth2.Token, error) method); use an oauth2client extension", id)
	}
	return oauth.Oauth(func(ctx context.Context) (oauth.Auth, error) {
		token, err := source.Token(ctx)
		if err != nil {
			return oauth.Auth{}, fmt.Errorf("getting a token from extension %q: %w", id, err)
		}
		return oauth.Auth{Token: token.AccessToken}, nil
	}), nil
}
