// Package kafkawakereceiver observes Kafka without consuming: for each
// binding (topic, consumer group, SlimFaas function) it reads high watermarks,
// log start offsets and the group's committed offsets in batched requests and
// emits the pending, consumed and last-activity metrics of the shared
// slimfaaskafka schema.
package kafkawakereceiver // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver"

//go:generate mdatagen metadata.yaml
