// Package trigger reads the metadata of a KEDA ScaledObject trigger into the
// bindings it selects, the metric it scales on and its thresholds. It answers
// from the metadata alone, so KEDA can ask before any metric has arrived.
package trigger // import "github.com/kafkawake/kafkawake/exporter/kedascalerexporter/internal/trigger"

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Metadata keys a trigger may set. KEDA passes every key of the trigger
// (scalerAddress, caCert...), so other keys are ignored.
const (
	KeyFunction        = "function"
	KeyTopic           = "topic"
	KeyGroup           = "group"
	KeyClusterAlias    = "clusterAlias"
	KeyMetric          = "metric"
	KeyTargetValue     = "targetValue"
	KeyActivationValue = "activationValue"
)

const (
	defaultTargetValue     = 100
	defaultActivationValue = 0
	metricNamePrefix       = "kafkawake-"
)

// Metric is the binding value a trigger scales on.
type Metric int

const (
	PendingMessages Metric = iota
	DesiredReplicas
	PendingAge
)

var metricNames = [...]string{
	PendingMessages: "pending_messages",
	DesiredReplicas: "desired_replicas",
	PendingAge:      "pending_age",
}

func (m Metric) String() string { return metricNames[m] }

// Selector names the bindings of a trigger: every binding of Function, or
// the bindings of Topic and Group; ClusterAlias, when set, keeps only those
// of that cluster.
type Selector struct {
	Function     string
	Topic        string
	Group        string
	ClusterAlias string
}

// String names the selector as the trigger metadata wrote it, for errors.
func (s Selector) String() string {
	var b strings.Builder
	if s.Function != "" {
		fmt.Fprintf(&b, "%s=%q", KeyFunction, s.Function)
	} else {
		fmt.Fprintf(&b, "%s=%q %s=%q", KeyTopic, s.Topic, KeyGroup, s.Group)
	}
	if s.ClusterAlias != "" {
		fmt.Fprintf(&b, " %s=%q", KeyClusterAlias, s.ClusterAlias)
	}
	return b.String()
}

// Trigger is one ScaledObject trigger read from its metadata.
type Trigger struct {
	Selector
	Metric Metric
	// Target is the HPA's target value per replica.
	Target float64
	// Activation is the value above which the workload is active.
	Activation float64
}

// KeyError is metadata that cannot be read; Key names the metadata key.
type KeyError struct {
	Key    string
	Reason string
}

func (e *KeyError) Error() string {
	return fmt.Sprintf("trigger metadata %q: %s", e.Key, e.Reason)
}

// Parse reads a trigger from its metadata.
func Parse(metadata map[string]string) (Trigger, error) {
	t := Trigger{
		Selector: Selector{
			Function:     strings.TrimSpace(metadata[KeyFunction]),
			Topic:        strings.TrimSpace(metadata[KeyTopic]),
			Group:        strings.TrimSpace(metadata[KeyGroup]),
			ClusterAlias: strings.TrimSpace(metadata[KeyClusterAlias]),
		},
	}
	switch {
	case t.Function != "" && (t.Topic != "" || t.Group != ""):
		return Trigger{}, &KeyError{Key: KeyFunction, Reason: "set either function, or topic and group, not both"}
	case t.Function == "" && t.Topic == "" && t.Group == "":
		return Trigger{}, &KeyError{Key: KeyFunction, Reason: "no binding selected: set function, or topic and group"}
	case t.Function == "" && t.Topic == "":
		return Trigger{}, &KeyError{Key: KeyTopic, Reason: "must be set with group"}
	case t.Function == "" && t.Group == "":
		return Trigger{}, &KeyError{Key: KeyGroup, Reason: "must be set with topic"}
	}

	metric, err := parseMetric(metadata[KeyMetric])
	if err != nil {
		return Trigger{}, err
	}
	t.Metric = metric
	if t.Target, err = parseNumber(metadata, KeyTargetValue, defaultTargetValue); err != nil {
		return Trigger{}, err
	}
	if t.Target <= 0 {
		return Trigger{}, &KeyError{Key: KeyTargetValue, Reason: "must be positive"}
	}
	if t.Activation, err = parseNumber(metadata, KeyActivationValue, defaultActivationValue); err != nil {
		return Trigger{}, err
	}
	if t.Activation < 0 {
		return Trigger{}, &KeyError{Key: KeyActivationValue, Reason: "must not be negative"}
	}
	return t, nil
}

func parseMetric(value string) (Metric, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return PendingMessages, nil
	}
	for m, name := range metricNames {
		if value == name {
			return Metric(m), nil
		}
	}
	return 0, &KeyError{Key: KeyMetric, Reason: fmt.Sprintf("%q is not one of %s", value, strings.Join(metricNames[:], ", "))}
}

func parseNumber(metadata map[string]string, key string, def float64) (float64, error) {
	value, ok := metadata[key]
	if !ok || strings.TrimSpace(value) == "" {
		return def, nil
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
		return 0, &KeyError{Key: key, Reason: fmt.Sprintf("%q is not a finite number", value)}
	}
	return n, nil
}

// MetricName is the name of the trigger's metric in the HPA:
// kafkawake-<function> or kafkawake-<topic>-<group>, lower-cased, with every
// character outside [a-z0-9-] replaced by '-' (Kubernetes accepts no other).
func (t Trigger) MetricName() string {
	if t.Function != "" {
		return sanitize(metricNamePrefix + t.Function)
	}
	return sanitize(metricNamePrefix + t.Topic + "-" + t.Group)
}

func sanitize(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			return r
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		}
		return '-'
	}, name)
}
