package kafkawakereceiver // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver"

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// clientOptions turns the configuration into franz-go options for the
// receiver's single, long-lived client.
func clientOptions(ctx context.Context, cfg *Config) ([]kgo.Opt, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID(cfg.ClientID),
		// KIP-714 pushes would add a goroutine and broker errors for nothing.
		kgo.DisableClientMetrics(),
	}
	if cfg.TLS.HasValue() {
		tlsConfig, err := cfg.TLS.Get().LoadTLSConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		// insecure: true without a CA means plaintext.
		if tlsConfig != nil {
			opts = append(opts, kgo.DialTLSConfig(tlsConfig))
		}
	}
	if cfg.SASL.HasValue() {
		opts = append(opts, kgo.SASL(saslMechanism(cfg.SASL.Get())))
	}
	return opts, nil
}

func saslMechanism(s *SASLConfig) sasl.Mechanism {
	user, pass := s.Username, string(s.Password)
	switch s.Mechanism {
	case MechanismScramSHA256:
		return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()
	case MechanismScramSHA512:
		return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()
	default:
		return plain.Auth{User: user, Pass: pass}.AsMechanism()
	}
}
