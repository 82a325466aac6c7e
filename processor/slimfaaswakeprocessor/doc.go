// Package slimfaaswakeprocessor reads the slimfaaskafka pending and consumed
// metrics of each (topic, consumer group, function) binding, decides when the
// SlimFaas function must be woken, calls the SlimFaas wake API without
// blocking the pipeline, and appends the wakeups and wake_failures counters of
// the shared slimfaaskafka schema to the metrics it forwards.
package slimfaaswakeprocessor // import "github.com/kafkawake/kafkawake/processor/slimfaaswakeprocessor"

//go:generate mdatagen metadata.yaml
