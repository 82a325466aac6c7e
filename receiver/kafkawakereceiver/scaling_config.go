package kafkawakereceiver // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver"

import (
	"fmt"
	"time"

	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/scaling"
)

const defaultRateWindow = time.Minute

// ScalingConfig configures slimfaaskafka.desired_replicas and
// slimfaaskafka.drain_time.
type ScalingConfig struct {
	// TargetPendingPerReplica is how many pending messages one replica of
	// the function should have; unset, desired_replicas is not emitted.
	TargetPendingPerReplica *int64 `mapstructure:"target_pending_per_replica"`
	// Cap bounds desired_replicas: partitions (the default), partitions_pending
	// or none. Share groups are never capped.
	Cap scaling.Cap `mapstructure:"cap"`
	// MaxReplicas bounds desired_replicas when above 0.
	MaxReplicas int64 `mapstructure:"max_replicas"`
	// RateWindow is the window of the produce and consume rates of
	// drain_time; at least two collection intervals. Unset, it is a minute,
	// or two collection intervals when they are longer.
	RateWindow time.Duration `mapstructure:"rate_window"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// ScalingOverride is a binding's own scaling keys; an absent key keeps the
// receiver's value.
type ScalingOverride struct {
	TargetPendingPerReplica *int64         `mapstructure:"target_pending_per_replica"`
	Cap                     *scaling.Cap   `mapstructure:"cap"`
	MaxReplicas             *int64         `mapstructure:"max_replicas"`
	RateWindow              *time.Duration `mapstructure:"rate_window"`

	// prevent unkeyed literal initialization
	_ struct{}
}

func defaultScalingConfig() ScalingConfig {
	return ScalingConfig{Cap: scaling.CapPartitions}
}

// window is the rate window at the collection interval: rate_window when
// set, else a minute or two intervals, whichever is longer.
func (s ScalingConfig) window(interval time.Duration) time.Duration {
	if s.RateWindow == 0 {
		return max(defaultRateWindow, 2*interval)
	}
	return s.RateWindow
}

// scalingFor is binding i's scaling configuration, its overrides applied.
func (cfg *Config) scalingFor(i int) ScalingConfig {
	s := cfg.Scaling
	o := cfg.Bindings[i].Scaling
	if o == nil {
		return s
	}
	if o.TargetPendingPerReplica != nil {
		s.TargetPendingPerReplica = o.TargetPendingPerReplica
	}
	if o.Cap != nil {
		s.Cap = *o.Cap
	}
	if o.MaxReplicas != nil {
		s.MaxReplicas = *o.MaxReplicas
	}
	if o.RateWindow != nil {
		s.RateWindow = *o.RateWindow
	}
	return s
}

// policy is the desired-replicas rule of the configuration.
func (s ScalingConfig) policy() scaling.Policy {
	p := scaling.Policy{Cap: s.Cap, MaxReplicas: s.MaxReplicas}
	if s.TargetPendingPerReplica != nil {
		p.TargetPerReplica = *s.TargetPendingPerReplica
	}
	return p
}

// validateScaling checks the receiver's scaling keys and every binding's
// overrides, naming the field.
func (cfg *Config) validateScaling() []error {
	errs := cfg.Scaling.validate("scaling", cfg.CollectionInterval)
	for i := range cfg.Bindings {
		if cfg.Bindings[i].Scaling != nil {
			errs = append(errs, cfg.scalingFor(i).validate(fmt.Sprintf("bindings[%d].scaling", i), cfg.CollectionInterval)...)
		}
	}
	return errs
}

func (s ScalingConfig) validate(prefix string, interval time.Duration) []error {
	var errs []error
	if s.TargetPendingPerReplica != nil && *s.TargetPendingPerReplica <= 0 {
		errs = append(errs, fmt.Errorf("%s.target_pending_per_replica: must be above 0 (leave it out to turn desired_replicas off), got %d", prefix, *s.TargetPendingPerReplica))
	}
	switch s.Cap {
	case scaling.CapPartitions, scaling.CapPartitionsPending, scaling.CapNone:
	default:
		errs = append(errs, fmt.Errorf("%s.cap: must be %q, %q or %q, got %q", prefix, scaling.CapPartitions, scaling.CapPartitionsPending, scaling.CapNone, s.Cap))
	}
	if s.MaxReplicas < 0 {
		errs = append(errs, fmt.Errorf("%s.max_replicas: must not be negative (0 means no bound), got %d", prefix, s.MaxReplicas))
	}
	if s.RateWindow != 0 && s.RateWindow < 2*interval {
		errs = append(errs, fmt.Errorf("%s.rate_window: must be at least two collection intervals (%s), got %s", prefix, 2*interval, s.RateWindow))
	}
	return errs
}
