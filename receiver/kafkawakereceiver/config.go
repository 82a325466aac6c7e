package kafkawakereceiver // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver"

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/kafka/configkafka"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/scraper/scraperhelper"

	schema "github.com/kafkawake/kafkawake/internal/metadata"
	"github.com/kafkawake/kafkawake/internal/slimfaasname"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/kafkaclient"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/lag"
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

// SASL mechanisms of auth.sasl.mechanism.
const (
	MechanismPlain       = kafkaclient.MechanismPlain
	MechanismScramSHA256 = kafkaclient.MechanismScramSHA256
	MechanismScramSHA512 = kafkaclient.MechanismScramSHA512
	MechanismAWSMSKIAM   = kafkaclient.MechanismAWSMSKIAM
	MechanismOAuthBearer = kafkaclient.MechanismOAuthBearer
)

// Config is the kafkawake receiver configuration.
type Config struct {
	scraperhelper.ControllerConfig `mapstructure:",squash"`
	schema.MetricsBuilderConfig    `mapstructure:",squash"`
	// ClientConfig holds the connection settings with the keys of contrib's
	// Kafka components: brokers, client_id, protocol_version, tls, auth,
	// metadata, rack_id, dial_timeout, conn_idle_timeout, use_leader_epoch.
	configkafka.ClientConfig `mapstructure:",squash"`

	// ClusterAlias, when set, is the kafka.cluster.alias resource attribute
	// of every scrape, telling apart receivers that watch different clusters.
	ClusterAlias string `mapstructure:"cluster_alias"`
	// OffsetReset decides how partitions without a committed offset count.
	OffsetReset OffsetReset `mapstructure:"offset_reset"`
	// IsolationLevel decides whether pending stops at the high watermark or
	// at the last stable offset.
	IsolationLevel IsolationLevel `mapstructure:"isolation_level"`
	// PendingAge says how slimfaaskafka.pending_age dates pending messages.
	PendingAge PendingAgeConfig `mapstructure:"pending_age"`
	// Bindings are the (topic, consumer group, function) triples to observe.
	Bindings []BindingConfig `mapstructure:"bindings"`
	// Coordination, when present, shares the bindings among the replicas
	// that join the same group; without it this collector observes them all.
	Coordination configoptional.Optional[CoordinationConfig] `mapstructure:"coordination"`
	// Watch long-polls the partitions of idle bindings to report them as
	// soon as a message arrives.
	Watch WatchConfig `mapstructure:"watch"`
	// ShutdownTimeout bounds each step of a shutdown that waits on Kafka
	// (leaving the coordination group), so that a pod stops within its
	// grace period even when Kafka does not answer.
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
	// Health configures the health signals: stalled partitions.
	Health HealthConfig `mapstructure:"health"`
	// Scaling configures the scaling signals: desired replicas and drain
	// time. A binding's own scaling keys override these.
	Scaling ScalingConfig `mapstructure:"scaling"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// readCommitted tells whether pending stops at the last stable offset.
func (cfg *Config) readCommitted() bool {
	return cfg.IsolationLevel == IsolationReadCommitted
}

// lagReset is offset_reset as the lag rules take it.
func (cfg *Config) lagReset() lag.Reset {
	if cfg.OffsetReset == OffsetResetLatest {
		return lag.FromLatest
	}
	return lag.FromEarliest
}

// Unmarshal refuses the top-level sasl key of earlier versions with
// directions, then decodes as usual (unknown keys stay errors).
func (cfg *Config) Unmarshal(conf *confmap.Conf) error {
	if conf.IsSet("sasl") {
		return errors.New("sasl: moved to auth.sasl, as in contrib's Kafka components: write auth: {sasl: {mechanism: ..., username: ..., password: ...}}")
	}
	return conf.Unmarshal(cfg)
}

// BindingConfig ties a topic and the group that reads it, a consumer group
// or a share group, to the SlimFaas function that runs that consumer.
type BindingConfig struct {
	Topic         string `mapstructure:"topic"`
	ConsumerGroup string `mapstructure:"consumer_group"`
	// ShareGroup names a share group (a queue, KIP-932) instead of a
	// consumer group: exactly one of the two is set.
	ShareGroup string `mapstructure:"share_group"`
	Function   string `mapstructure:"function"`
	// Scaling overrides the receiver's scaling keys for this binding.
	Scaling *ScalingOverride `mapstructure:"scaling"`

	// prevent unkeyed literal initialization
	_ struct{}
}

func (b BindingConfig) String() string {
	return fmt.Sprintf("topic %q, %s %q, function %q", b.Topic, b.groupKey(), b.Group(), b.Function)
}

// Group is the binding's group, consumer or share group: the metrics'
// group attribute.
func (b BindingConfig) Group() string {
	if b.IsShare() {
		return b.ShareGroup
	}
	return b.ConsumerGroup
}

// IsShare tells whether the binding reads through a share group.
func (b BindingConfig) IsShare() bool { return b.ShareGroup != "" }

func (b BindingConfig) groupKey() string {
	if b.IsShare() {
		return "share_group"
	}
	return "consumer_group"
}

// Validate checks the configuration; every error names the offending field.
// configkafka validates the connection settings it owns (brokers present,
// protocol_version, auth.sasl, timeouts, metadata.retry).
func (cfg *Config) Validate() error {
	var errs []error
	for i, b := range cfg.Brokers {
		if strings.TrimSpace(b) == "" {
			errs = append(errs, fmt.Errorf("brokers[%d]: must not be empty", i))
		}
	}
	if cfg.Authentication.Kerberos != nil {
		errs = append(errs, errors.New("auth.kerberos: not supported by the kafkawake receiver; use auth.sasl (SCRAM-SHA-512, PLAIN over TLS, OAUTHBEARER) or mutual TLS"))
	}
	if cfg.Authentication.SASL != nil {
		errs = append(errs, unusedSASLKeys(cfg.Authentication.SASL)...)
	}
	if cfg.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout: must be positive, got %s", cfg.Timeout))
	}
	if cfg.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("shutdown_timeout: must be positive, got %s", cfg.ShutdownTimeout))
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
	errs = append(errs, cfg.PendingAge.validate()...)
	errs = append(errs, validateBindings(cfg.Bindings)...)
	errs = append(errs, cfg.validateScaling()...)
	errs = append(errs, cfg.Health.validate()...)
	if cfg.Coordination.HasValue() {
		errs = append(errs, cfg.Coordination.Get().validate()...)
		errs = append(errs, validateCoordinationGroup(cfg.Coordination.Get().Group, cfg.Bindings)...)
	}
	errs = append(errs, cfg.Watch.validate()...)
	return errors.Join(errs...)
}

// unusedSASLKeys refuses the auth.sasl keys that the chosen mechanism would
// ignore, such as a password next to AWS_MSK_IAM_OAUTHBEARER. configkafka
// checks that the keys a mechanism needs are there.
func unusedSASLKeys(s *configkafka.SASLConfig) []error {
	keys := []struct {
		name       string
		set        bool
		mechanisms []string
	}{
		{"username", s.Username != "", []string{MechanismPlain, MechanismScramSHA256, MechanismScramSHA512}},
		{"password", s.Password != "", []string{MechanismPlain, MechanismScramSHA256, MechanismScramSHA512}},
		{"aws_msk.region", s.AWSMSK.Region != "", []string{MechanismAWSMSKIAM}},
		{"oauthbearer_token_source", s.OAuthBearerTokenSource != (component.ID{}), []string{MechanismOAuthBearer}},
	}
	var errs []error
	for _, k := range keys {
		if k.set && !slices.Contains(k.mechanisms, s.Mechanism) {
			errs = append(errs, fmt.Errorf("auth.sasl.%s: not used by mechanism %q (only by %s): remove it or change the mechanism", k.name, s.Mechanism, strings.Join(k.mechanisms, ", ")))
		}
	}
	return errs
}

func validateBindings(bindings []BindingConfig) []error {
	if len(bindings) == 0 {
		return []error{errors.New("bindings: must list at least one binding")}
	}
	var errs []error
	type identity struct{ topic, group, function string }
	firstIndex := make(map[identity]int, len(bindings))
	// groupKinds remembers, per group name, the first binding that used it
	// and whether as a share group: one name is one group in Kafka.
	type groupUse struct {
		index int
		share bool
	}
	groupKinds := map[string]groupUse{}
	for i, b := range bindings {
		fields := []struct{ name, value string }{
			{"topic", b.Topic}, {"function", b.Function},
		}
		for _, f := range fields {
			if strings.TrimSpace(f.value) == "" {
				errs = append(errs, fmt.Errorf("bindings[%d].%s: must not be empty", i, f.name))
			}
		}
		switch {
		case b.ConsumerGroup != "" && b.ShareGroup != "":
			errs = append(errs, fmt.Errorf("bindings[%d]: sets both consumer_group and share_group; a binding reads through exactly one group: keep the one its function's consumer uses", i))
		case strings.TrimSpace(b.Group()) == "":
			errs = append(errs, fmt.Errorf("bindings[%d]: needs consumer_group (a consumer group) or share_group (a share group, Kafka 4.2 or later)", i))
		default:
			if first, ok := groupKinds[b.Group()]; ok && first.share != b.IsShare() {
				errs = append(errs, fmt.Errorf("bindings[%d].%s: %q is bindings[%d]'s %s; a group is either a consumer group or a share group", i, b.groupKey(), b.Group(), first.index, bindings[first.index].groupKey()))
			} else if !ok {
				groupKinds[b.Group()] = groupUse{i, b.IsShare()}
			}
		}
		if strings.TrimSpace(b.Function) != "" {
			if err := slimfaasname.Validate(b.Function); err != nil {
				errs = append(errs, fmt.Errorf("bindings[%d].function: %w", i, err))
			}
		}
		id := identity{b.Topic, b.Group(), b.Function}
		if first, dup := firstIndex[id]; dup {
			errs = append(errs, fmt.Errorf("bindings[%d]: duplicates bindings[%d] (%s)", i, first, b))
			continue
		}
		firstIndex[id] = i
	}
	return errs
}

// Bounds Kafka brokers put on a group's session timeout by default
// (group.min.session.timeout.ms, group.max.session.timeout.ms).
const (
	minSessionTimeout = 6 * time.Second
	maxSessionTimeout = 300 * time.Second
)

// CoordinationConfig names the Kafka group the replicas share their bindings
// through, and how quickly a silent replica loses them.
type CoordinationConfig struct {
	// Group is the Kafka group the replicas join; it must not be a consumer
	// group's name.
	Group string `mapstructure:"group"`
	// SessionTimeout is how long the coordinator waits for a silent replica
	// before giving its bindings to the others.
	SessionTimeout time.Duration `mapstructure:"session_timeout"`
	// HeartbeatInterval is how often a replica confirms it is alive.
	HeartbeatInterval time.Duration `mapstructure:"heartbeat_interval"`
	// Report says which bindings a replica observes and exports: every
	// binding (ReportAll, the default; empty means it too) or only those it
	// owns (ReportOwned). A replica wakes only the bindings it owns either
	// way.
	Report ReportScope `mapstructure:"report"`

	// prevent unkeyed literal initialization
	_ struct{}
}

func (c *CoordinationConfig) validate() []error {
	var errs []error
	if strings.TrimSpace(c.Group) == "" {
		errs = append(errs, errors.New("coordination.group: must not be empty"))
	}
	if c.SessionTimeout < minSessionTimeout || c.SessionTimeout > maxSessionTimeout {
		errs = append(errs, fmt.Errorf("coordination.session_timeout: must be between %s and %s (the brokers' default bounds), got %s", minSessionTimeout, maxSessionTimeout, c.SessionTimeout))
	}
	// A replica stops observing its bindings after four fifths of the
	// session without a confirmed heartbeat: a third leaves room for a lost
	// heartbeat or two before that.
	if c.HeartbeatInterval <= 0 || c.HeartbeatInterval > c.SessionTimeout/3 {
		errs = append(errs, fmt.Errorf("coordination.heartbeat_interval: must be positive and at most a third of session_timeout (%s), got %s", c.SessionTimeout/3, c.HeartbeatInterval))
	}
	switch c.Report {
	case "", ReportAll, ReportOwned:
	default:
		errs = append(errs, fmt.Errorf("coordination.report: must be %q or %q, got %q", ReportAll, ReportOwned, c.Report))
	}
	return errs
}

// ReportScope says which bindings a coordinated replica observes and exports.
type ReportScope string

const (
	// ReportAll: every replica observes and exports every binding, so any
	// one of them answers for all; only the owner wakes.
	ReportAll ReportScope = "all"
	// ReportOwned: a replica observes and exports only the bindings it owns.
	ReportOwned ReportScope = "owned"
)

// reportsAll reports whether the replicas observe every binding.
func (c *CoordinationConfig) reportsAll() bool { return c.Report != ReportOwned }

// validateCoordinationGroup refuses a coordination group that is also a
// bound consumer group: the replicas would join it with their own protocol
// type and Kafka would then refuse the function's consumers.
func validateCoordinationGroup(group string, bindings []BindingConfig) []error {
	var errs []error
	for i, b := range bindings {
		if b.Group() == group {
			errs = append(errs, fmt.Errorf("coordination.group: %q is also bindings[%d].%s; joining it would lock the function's consumers out of their own group: give coordination.group a name no consumer uses", group, i, b.groupKey()))
		}
	}
	return errs
}

// PendingAgeMethod says how the receiver dates the oldest pending message.
type PendingAgeMethod string

const (
	// PendingAgeEstimate dates offsets from the times the receiver saw the
	// high watermark pass them; it needs no permission beyond Describe.
	PendingAgeEstimate PendingAgeMethod = "estimate"
	// PendingAgeFetch reads the timestamp of the first pending record of each
	// lagging partition; it needs Read on the topics.
	PendingAgeFetch PendingAgeMethod = "fetch"
	// PendingAgeNone turns the pending age off.
	PendingAgeNone PendingAgeMethod = "none"
)

// PendingAgeConfig configures slimfaaskafka.pending_age.
type PendingAgeConfig struct {
	Method PendingAgeMethod `mapstructure:"method"`

	// prevent unkeyed literal initialization
	_ struct{}
}

func (c PendingAgeConfig) validate() []error {
	switch c.Method {
	case PendingAgeEstimate, PendingAgeFetch, PendingAgeNone:
		return nil
	default:
		return []error{fmt.Errorf("pending_age.method: must be %q, %q or %q, got %q", PendingAgeEstimate, PendingAgeFetch, PendingAgeNone, c.Method)}
	}
}

const (
	defaultWatchMaxWait = 5 * time.Second
	// maxWatchMaxWait bounds how long a silently dropped connection can hold
	// a long poll: each poll gives up max_wait plus the timeout after it
	// was sent.
	maxWatchMaxWait = 30 * time.Second
)

// WatchConfig turns on long polls of the partitions of idle bindings.
type WatchConfig struct {
	// Enabled needs Read on the bound topics.
	Enabled bool `mapstructure:"enabled"`
	// MaxWait is how long one long poll waits at the broker for a message.
	MaxWait time.Duration `mapstructure:"max_wait"`

	// prevent unkeyed literal initialization
	_ struct{}
}

func defaultWatchConfig() WatchConfig {
	return WatchConfig{MaxWait: defaultWatchMaxWait}
}

func (w *WatchConfig) validate() []error {
	if w.MaxWait <= 0 || w.MaxWait > maxWatchMaxWait {
		return []error{fmt.Errorf("watch.max_wait: must be above 0 and at most %s, got %s", maxWatchMaxWait, w.MaxWait)}
	}
	return nil
}

const defaultStallAfter = 2 * time.Minute

// HealthConfig configures slimfaaskafka.stalled_partitions.
type HealthConfig struct {
	// StallAfter is how long a partition with pending messages, a group
	// with members and a commit that does not move takes to be stalled.
	StallAfter time.Duration `mapstructure:"stall_after"`

	// prevent unkeyed literal initialization
	_ struct{}
}

func (h HealthConfig) validate() []error {
	if h.StallAfter <= 0 {
		return []error{fmt.Errorf("health.stall_after: must be positive, got %s", h.StallAfter)}
	}
	return nil
}
