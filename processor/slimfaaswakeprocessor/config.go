package slimfaaswakeprocessor // import "github.com/kafkawake/kafkawake/processor/slimfaaswakeprocessor"

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/confmap"

	"github.com/kafkawake/kafkawake/internal/slimfaasname"
)

// functionNamePlaceholder is replaced in WakePath by the path-escaped function name.
const functionNamePlaceholder = "{functionName}"

// Config is the slimfaaswake processor configuration.
type Config struct {
	// ClientConfig holds the SlimFaas base URL (endpoint), timeout, headers and
	// TLS. A named field, not an embedded one, so that its Unmarshal method is
	// not promoted to Config (it would decode only the client fields).
	ClientConfig confighttp.ClientConfig `mapstructure:",squash"`
	WakeConfig   `mapstructure:",squash"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// WakeConfig is everything but the HTTP client.
type WakeConfig struct {
	// WakePath is appended to the endpoint; it must contain {functionName}.
	WakePath string `mapstructure:"wake_path"`
	// DryRun decides and counts as if SlimFaas had answered 204, without calling it.
	DryRun bool `mapstructure:"dry_run"`
	// Defaults are the wake rules of every function without an override.
	Defaults WakeRules `mapstructure:"defaults"`
	// Functions overrides individual rules per SlimFaas function name.
	Functions map[string]WakeRuleOverrides `mapstructure:"functions"`
	// RetryOnFailure retries failed wake calls with exponential backoff and
	// jitter. Retries stop when the binding's cooldown has elapsed since the
	// first attempt, or max_elapsed_time if that is set and shorter; so with
	// a zero cooldown there are no retries, the next observation tries again.
	RetryOnFailure configretry.BackOffConfig `mapstructure:"retry_on_failure"`
	// BindingExpiry is how long a binding may be absent from the input before
	// the processor forgets its state and counters, as when another replica
	// takes it over. A binding seen again after that starts anew.
	BindingExpiry time.Duration `mapstructure:"binding_expiry"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// Unmarshal decodes the configuration and rejects unknown keys. Because the
// squashed confighttp.ClientConfig has its own Unmarshal, confmap decodes
// every other field with unknown keys ignored
// (open-telemetry/opentelemetry-collector#15907), so a misspelt key such as
// `coolddown` would pass silently. The keys that are not the HTTP client's
// are therefore decoded once more, strictly.
func (cfg *Config) Unmarshal(conf *confmap.Conf) error {
	if err := conf.Unmarshal(cfg); err != nil {
		return err
	}
	own := conf.ToStringMap()
	for _, key := range httpClientKeys() {
		delete(own, key)
	}
	strict := cfg.WakeConfig
	return confmap.NewFromStringMap(own).Unmarshal(&strict)
}

// httpClientKeys lists the top-level keys that confighttp.ClientConfig reads.
func httpClientKeys() []string {
	t := reflect.TypeFor[confighttp.ClientConfig]()
	keys := make([]string, 0, t.NumField())
	for field := range t.Fields() {
		if name, _, _ := strings.Cut(field.Tag.Get("mapstructure"), ","); name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	return keys
}

// WakeRules decide when a binding's function is woken.
type WakeRules struct {
	// MinPendingMessages is the pending count from which the function is woken.
	MinPendingMessages int64 `mapstructure:"min_pending_messages"`
	// Cooldown is the minimum time between two successful wakes of a binding.
	Cooldown time.Duration `mapstructure:"cooldown"`
	// ActivityKeepAlive is how long after the last observed consumption the
	// function is kept awake; 0 disables activity wakes.
	ActivityKeepAlive time.Duration `mapstructure:"activity_keep_alive"`
	// MinConsumedDelta is the consumption between two observations that counts as activity.
	MinConsumedDelta int64 `mapstructure:"min_consumed_delta"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// WakeRuleOverrides replaces the default rules that are set, for one function.
type WakeRuleOverrides struct {
	MinPendingMessages *int64         `mapstructure:"min_pending_messages"`
	Cooldown           *time.Duration `mapstructure:"cooldown"`
	ActivityKeepAlive  *time.Duration `mapstructure:"activity_keep_alive"`
	MinConsumedDelta   *int64         `mapstructure:"min_consumed_delta"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// rulesFor returns the defaults with the function's overrides applied.
func (cfg *Config) rulesFor(function string) WakeRules {
	rules := cfg.Defaults
	o, ok := cfg.Functions[function]
	if !ok {
		return rules
	}
	if o.MinPendingMessages != nil {
		rules.MinPendingMessages = *o.MinPendingMessages
	}
	if o.Cooldown != nil {
		rules.Cooldown = *o.Cooldown
	}
	if o.ActivityKeepAlive != nil {
		rules.ActivityKeepAlive = *o.ActivityKeepAlive
	}
	if o.MinConsumedDelta != nil {
		rules.MinConsumedDelta = *o.MinConsumedDelta
	}
	return rules
}

// wakeURL is the URL to POST to wake function.
func (cfg *Config) wakeURL(function string) string {
	base := strings.TrimSuffix(cfg.ClientConfig.Endpoint, "/")
	return base + strings.ReplaceAll(cfg.WakePath, functionNamePlaceholder, url.PathEscape(function))
}

// Validate checks the configuration; every error names the offending field.
// confmap validates the confighttp and configretry settings on their own.
func (cfg *Config) Validate() error {
	var errs []error
	if err := validateEndpoint(cfg.ClientConfig.Endpoint); err != nil {
		errs = append(errs, err)
	}
	if cfg.ClientConfig.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout: must be positive, got %s", cfg.ClientConfig.Timeout))
	}
	if !strings.HasPrefix(cfg.WakePath, "/") {
		errs = append(errs, fmt.Errorf("wake_path: must start with /, got %q", cfg.WakePath))
	}
	if !strings.Contains(cfg.WakePath, functionNamePlaceholder) {
		errs = append(errs, fmt.Errorf("wake_path: must contain %s, got %q", functionNamePlaceholder, cfg.WakePath))
	}
	if r := cfg.RetryOnFailure; r.Enabled {
		// configretry validates the ranges; these would make retries spin.
		if r.InitialInterval <= 0 {
			errs = append(errs, fmt.Errorf("retry_on_failure.initial_interval: must be positive when retries are enabled, got %s", r.InitialInterval))
		}
		if r.MaxInterval < r.InitialInterval {
			errs = append(errs, fmt.Errorf("retry_on_failure.max_interval: must not be less than initial_interval (%s), got %s", r.InitialInterval, r.MaxInterval))
		}
		if r.Multiplier < 1 {
			errs = append(errs, fmt.Errorf("retry_on_failure.multiplier: must be at least 1 when retries are enabled, got %g", r.Multiplier))
		}
	}
	if cfg.BindingExpiry <= 0 {
		errs = append(errs, fmt.Errorf("binding_expiry: must be positive, got %s", cfg.BindingExpiry))
	}
	errs = append(errs, validateRules("defaults", cfg.Defaults.asOverrides())...)
	// Sorted so that the error text does not depend on map order.
	for _, function := range slices.Sorted(maps.Keys(cfg.Functions)) {
		prefix := fmt.Sprintf("functions[%s]", function)
		if strings.TrimSpace(function) == "" {
			errs = append(errs, fmt.Errorf("%s: function name must not be empty", prefix))
			continue
		}
		if err := slimfaasname.Validate(function); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", prefix, err))
			continue
		}
		errs = append(errs, validateRules(prefix, cfg.Functions[function])...)
	}
	return errors.Join(errs...)
}

// validateEndpoint accepts an absolute http or https URL with a host and
// neither a query nor a fragment, since the wake path is appended to it.
func validateEndpoint(endpoint string) error {
	u, err := url.Parse(endpoint)
	switch {
	case err != nil:
		return fmt.Errorf("endpoint: must be an absolute http(s) URL, got %q: %w", endpoint, err)
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("endpoint: must be an absolute http(s) URL with a host, got %q", endpoint)
	case u.RawQuery != "" || u.ForceQuery:
		return fmt.Errorf("endpoint: must not have a query (the wake path is appended to it), got %q", endpoint)
	case u.Fragment != "" || strings.Contains(endpoint, "#"):
		return fmt.Errorf("endpoint: must not have a fragment (the wake path is appended to it), got %q", endpoint)
	}
	return nil
}

// asOverrides views every rule as set, so defaults and overrides share one validation.
func (r WakeRules) asOverrides() WakeRuleOverrides {
	return WakeRuleOverrides{
		MinPendingMessages: &r.MinPendingMessages,
		Cooldown:           &r.Cooldown,
		ActivityKeepAlive:  &r.ActivityKeepAlive,
		MinConsumedDelta:   &r.MinConsumedDelta,
	}
}

// validateRules checks the rules that are set; prefix names them in errors.
func validateRules(prefix string, r WakeRuleOverrides) []error {
	var errs []error
	if r.MinPendingMessages != nil && *r.MinPendingMessages < 1 {
		errs = append(errs, fmt.Errorf("%s.min_pending_messages: must be at least 1, got %d", prefix, *r.MinPendingMessages))
	}
	if r.Cooldown != nil && *r.Cooldown < 0 {
		errs = append(errs, fmt.Errorf("%s.cooldown: must not be negative, got %s", prefix, *r.Cooldown))
	}
	if r.ActivityKeepAlive != nil && *r.ActivityKeepAlive < 0 {
		errs = append(errs, fmt.Errorf("%s.activity_keep_alive: must not be negative, got %s", prefix, *r.ActivityKeepAlive))
	}
	if r.MinConsumedDelta != nil && *r.MinConsumedDelta < 1 {
		errs = append(errs, fmt.Errorf("%s.min_consumed_delta: must be at least 1, got %d", prefix, *r.MinConsumedDelta))
	}
	return errs
}
