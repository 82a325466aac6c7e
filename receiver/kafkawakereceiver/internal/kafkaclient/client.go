// Package kafkaclient builds the receiver's franz-go clients from contrib's
// Kafka connection settings (configkafka), the same way for every client.
package kafkaclient // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/kafkaclient"

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/kafka/configkafka"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
	"go.opentelemetry.io/collector/component"
)

// New builds a long-lived client from the connection settings; purpose
// names it in the error ("the scrapes'", "the watch's"). It connects lazily,
// so a broker that is down at start shows up as read errors, not as a
// failed start. host provides the extension named by
// auth.sasl.oauthbearer_token_source.
func New(ctx context.Context, cfg *configkafka.ClientConfig, host component.Host, purpose string) (*kgo.Client, error) {
	opts, err := Options(ctx, cfg, host)
	if err != nil {
		return nil, err
	}
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("creating %s Kafka client for brokers %v: %w", purpose, cfg.Brokers, err)
	}
	return client, nil
}

// Options turns the connection settings into franz-go options.
func Options(ctx context.Context, cfg *configkafka.ClientConfig, host component.Host) ([]kgo.Opt, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID(cfg.ClientID),
		// KIP-714 pushes would add a goroutine and broker errors for nothing.
		kgo.DisableClientMetrics(),
		kgo.DialTimeout(cfg.DialTimeout),
		kgo.ConnIdleTimeout(cfg.ConnIdleTimeout),
		// An explicit 0 means no retry.
		kgo.RequestRetries(cfg.Metadata.Retry.Max),
	}
	if cfg.Metadata.RefreshInterval > 0 {
		opts = append(opts, kgo.MetadataMaxAge(cfg.Metadata.RefreshInterval))
	}
	// A zero backoff would retry an unhealthy broker in a busy loop: franz-go's
	// default stays.
	if cfg.Metadata.Retry.Backoff > 0 {
		opts = append(opts, kgo.RetryBackoffFn(retryBackoff(cfg.Metadata.Retry.Backoff, rand.Float64)))
	}
	versions := kversion.Stable()
	if cfg.ProtocolVersion != "" {
		// Validate has checked that the version parses. Pinned both ways, as
		// contrib's Kafka components do, for brokers whose ApiVersions
		// answer overstates what they serve.
		versions = kversion.FromString(cfg.ProtocolVersion)
		opts = append(opts, kgo.MinVersions(versions))
	}
	capOffsetFetch(versions)
	opts = append(opts, kgo.MaxVersions(versions))
	if cfg.TLS != nil {
		tlsConfig, err := cfg.TLS.LoadTLSConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		// insecure: true without a CA means plaintext.
		if tlsConfig != nil {
			opts = append(opts, kgo.DialTLSConfig(tlsConfig))
		}
	}
	if cfg.Authentication.SASL != nil {
		mechanism, err := saslMechanism(ctx, cfg.Authentication.SASL, host)
		if err != nil {
			return nil, fmt.Errorf("auth.sasl: %w", err)
		}
		opts = append(opts, kgo.SASL(mechanism))
	}
	return opts, nil
}

// lastOffsetFetchByName is the last OffsetFetch version whose answer names
// its topics; later versions name them by topic ID only. The reader sends
// OffsetFetch straight to the group coordinators, where nothing would turn
// the IDs back into names. Every broker that serves a later version serves
// this one.
const lastOffsetFetchByName = 9

// capOffsetFetch lowers OffsetFetch in versions to lastOffsetFetchByName.
func capOffsetFetch(versions *kversion.Versions) {
	key := kmsg.OffsetFetch.Int16()
	if v, ok := versions.LookupMaxKeyVersion(key); ok && v > lastOffsetFetchByName {
		versions.SetMaxKeyVersion(key, lastOffsetFetchByName)
	}
}

// maxRetryBackoff is the longest wait between two tries unless
// metadata.retry.backoff asks for more.
const maxRetryBackoff = 5 * time.Second

// retryBackoff waits initial before the first retry and doubles the wait
// after every failed try, up to max(initial, 5s). Each wait is spread by ±20%
// (jitter returns a number in [0, 1)) so that clients do not retry in step.
func retryBackoff(initial time.Duration, jitter func() float64) func(int) time.Duration {
	ceiling := max(initial, maxRetryBackoff)
	return func(fails int) time.Duration {
		wait := initial
		for i := 1; i < fails && wait < ceiling; i++ {
			wait *= 2
		}
		wait = min(wait, ceiling)
		return min(time.Duration(float64(wait)*(0.8+0.4*jitter())), ceiling)
	}
}
