package kafkawakereceiver // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver"

import (
	"errors"
	"fmt"
	"strings"

	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/scraper/scraperhelper"

	schema "github.com/kafkawake/kafkawake/internal/metadata"
)

// OffsetReset says how a partition without a committed offset counts, the way
// the function's consumer would start reading it.
type OffsetReset string

const (
	// OffsetResetEarliest counts every message still retained on the partition.
	OffsetResetEarliest OffsetReset = "earliest"
	// OffsetResetLatest counts only messages produced after the receiver first
	// saw the partition without a commit.
	OffsetResetLatest OffsetReset = "latest"
)

// IsolationLevel says up to which offset a partition's messages count.
type IsolationLevel string

const (
	// IsolationReadUncommitted counts up to the high watermark.
	IsolationReadUncommitted IsolationLevel = "read_uncommitted"
	// IsolationReadCommitted counts up to the last stable offset, as a
	// read_committed consumer of transactional producers sees the partition.
	IsolationReadCommitted IsolationLevel = "read_committed"
)

// SASL mechanisms the receiver authenticates with.
const (
	MechanismPlain       = "PLAIN"
	MechanismScramSHA256 = "SCRAM-SHA-256"
	MechanismScramSHA512 = "SCRAM-SHA-512"
)

// SASLConfig authenticates the receiver's Kafka connections.
type SASLConfig struct {
	Mechanism string              `mapstructure:"mechanism"`
	Username  string              `mapstructure:"username"`
	Password  configopaque.String `mapstructure:"password"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// Config is the kafkawake receiver configuration.
type Config struct {
	scraperhelper.ControllerConfig `mapstructure:",squash"`
	schema.MetricsBuilderConfig    `mapstructure:",squash"`

	// Brokers are the seed brokers, host:port.
	Brokers []string `mapstructure:"brokers"`
	// ClientID is sent to Kafka with every request.
	ClientID string `mapstructure:"client_id"`
	// OffsetReset decides how partitions without a committed offset count.
	OffsetReset OffsetReset `mapstructure:"offset_reset"`
	// IsolationLevel decides whether pending stops at the high watermark or
	// at the last stable offset.
	IsolationLevel IsolationLevel `mapstructure:"isolation_level"`
	// TLS, when present, encrypts the connections to the brokers.
	TLS configoptional.Optional[configtls.ClientConfig] `mapstructure:"tls"`
	// SASL, when present, authenticates the connections.
	SASL configoptional.Optional[SASLConfig] `mapstructure:"sasl"`
	// Bindings are the (topic, consumer group, function) triples to observe.
	Bindings []BindingConfig `mapstructure:"bindings"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// BindingConfig ties a topic and the consumer group that reads it to the
// SlimFaas function that runs that consumer.
type BindingConfig struct {
	Topic         string `mapstructure:"topic"`
	ConsumerGroup string `mapstructure:"consumer_group"`
	Function      string `mapstructure:"function"`

	// prevent unkeyed literal initialization
	_ struct{}
}

func (b BindingConfig) String() string {
	return fmt.Sprintf("topic %q, consumer_group %q, function %q", b.Topic, b.ConsumerGroup, b.Function)
}

// Validate checks the configuration; every error names the offending field.
func (cfg *Config) Validate() error {
	var errs []error
	if len(cfg.Brokers) == 0 {
		errs = append(errs, errors.New("brokers: must list at least one broker"))
	}
	for i, b := range cfg.Brokers {
		if strings.TrimSpace(b) == "" {
			errs = append(errs, fmt.Errorf("brokers[%d]: must not be empty", i))
		}
	}
	if cfg.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout: must be positive, got %s", cfg.Timeout))
	}
	switch cfg.OffsetReset {
	case OffsetResetEarliest, OffsetResetLatest:
	default:
		errs = append(errs, fmt.Errorf("offset_reset: must be %q or %q, got %q", OffsetResetEarliest, OffsetResetLatest, cfg.OffsetReset))
	}
	switch cfg.IsolationLevel {
	case IsolationReadUncommitted, IsolationReadCommitted:
	default:
		errs = append(errs, fmt.Errorf("isolation_level: must be %q or %q, got %q", IsolationReadUncommitted, IsolationReadCommitted, cfg.IsolationLevel))
	}
	if cfg.SASL.HasValue() {
		errs = append(errs, cfg.SASL.Get().validate()...)
	}
	errs = append(errs, validateBindings(cfg.Bindings)...)
	return errors.Join(errs...)
}

func (s *SASLConfig) validate() []error {
	var errs []error
	switch s.Mechanism {
	case MechanismPlain, MechanismScramSHA256, MechanismScramSHA512:
	default:
		errs = append(errs, fmt.Errorf("sasl.mechanism: must be %s, %s or %s, got %q", MechanismPlain, MechanismScramSHA256, MechanismScramSHA512, s.Mechanism))
	}
	if s.Username == "" {
		errs = append(errs, errors.New("sasl.username: must not be empty"))
	}
	if s.Password == "" {
		errs = append(errs, errors.New("sasl.password: must not be empty"))
	}
	return errs
}

func validateBindings(bindings []BindingConfig) []error {
	if len(bindings) == 0 {
		return []error{errors.New("bindings: must list at least one binding")}
	}
	var errs []error
	firstIndex := make(map[BindingConfig]int, len(bindings))
	for i, b := range bindings {
		fields := []struct{ name, value string }{
			{"topic", b.Topic}, {"consumer_group", b.ConsumerGroup}, {"function", b.Function},
		}
		for _, f := range fields {
			if strings.TrimSpace(f.value) == "" {
				errs = append(errs, fmt.Errorf("bindings[%d].%s: must not be empty", i, f.name))
			}
		}
		if first, dup := firstIndex[b]; dup {
			errs = append(errs, fmt.Errorf("bindings[%d]: duplicates bindings[%d] (%s)", i, first, b))
			continue
		}
		firstIndex[b] = i
	}
	return errs
}
