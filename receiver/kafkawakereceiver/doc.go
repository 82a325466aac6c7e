// Package kafkawakereceiver observes Kafka without consuming. For each
// binding (topic, consumer group, SlimFaas function) it reads high
// watermarks, log start offsets and the group's committed offsets in batched
// requests, and emits the metrics of the shared slimfaaskafka schema.
//
// One observation reads (internal/kafkaread), settles the read_committed
// residue (internal/residue), computes lag, consumption and first commits
// (internal/lag), dates the oldest pending message (internal/pendingage) and
// reports, in that order; everything kept between observations is one
// bindingMemory per binding. Around it:
//   - fault isolation and freshness: a binding gets a point only when all of
//     its partitions were read, errors name their cause and are logged once
//     per change (internal/logchange), and the layout is read at every
//     observation, so added partitions and topics count at once;
//   - the watch (internal/watch) long-polls idle bindings and reports them
//     between scrapes;
//   - replicas (internal/coordination) share the bindings through a Kafka
//     group, and a binding that moves in is reported at once;
//   - internal/kafkaclient builds the Kafka clients from contrib's connection
//     settings, SASL and TLS included.
//
// The rules are in docs/rules.md at the repository's root.
package kafkawakereceiver // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver"

//go:generate mdatagen metadata.yaml
