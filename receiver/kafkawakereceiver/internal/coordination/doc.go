// Package coordination shares a receiver's bindings among the replicas that
// join the same Kafka group. The group's leader assigns every function, with
// all its bindings, to exactly one member by rendezvous hashing; each member
// heartbeats to keep its share and stops observing it before the
// coordinator could hand it to another member.
package coordination // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/coordination"
