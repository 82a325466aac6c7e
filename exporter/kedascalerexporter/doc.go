// Package kedascalerexporter serves KEDA's external-scaler gRPC service
// (externalscaler.ExternalScaler: IsActive, StreamIsActive, GetMetricSpec,
// GetMetrics) from the slimfaaskafka metrics of each binding that reach it
// through a metrics pipeline. A ScaledObject trigger of type external-push
// selects bindings by function, or by topic and group, and scales on their
// pending messages, desired replicas or pending age; a pushed true reaches
// KEDA as soon as a metric batch makes a selected binding active.
package kedascalerexporter // import "github.com/kafkawake/kafkawake/exporter/kedascalerexporter"

//go:generate mdatagen metadata.yaml
