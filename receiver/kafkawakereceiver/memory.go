package kafkawakereceiver // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver"

import (
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/health"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/lag"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/logchange"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/production"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/rates"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/residue"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/sharereset"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/watch"
)

// bindingMemory is everything the receiver keeps about one binding between
// observations. A binding that starts over (new to this replica, or gone
// from it) gets a fresh one: nothing else holds state per binding. What
// every binding of a topic would keep alike is kept once, in topicMemory.
type bindingMemory struct {
	// inShare is set while the binding is in this replica's share: it was
	// observed at the last scrape, or is about to be.
	inShare bool
	lag     *lag.State
	// residue is nil unless isolation_level is read_committed.
	residue *residue.Memory
	// status is the binding's read problem, logged once per change.
	status logchange.Text
	// outOfRange lists the partitions whose commit is beyond their end,
	// logged once per change.
	outOfRange logchange.Text
	// sight is what the watch polls for the binding; the zero sight (not
	// read yet, or read with an error) is not watched.
	sight watch.Sight
	// produced is where the binding's count of its topic's messages starts.
	produced production.Baseline
	// rates holds the produced and consumed counts over the rate window.
	rates *rates.History
	// losses counts the messages deleted before the group read them.
	losses health.Losses
	// stalls times the partitions a live consumer does not move on.
	stalls health.Stalls
	// members is why the group's members are unknown, logged once per
	// change.
	members logchange.Text
	// shareReset is, for a share-group binding, the group's
	// share.auto.offset.reset; nil for a consumer-group binding.
	shareReset *sharereset.Memory
}

func newBindingMemory(cfg *Config, binding int) bindingMemory {
	m := bindingMemory{lag: lag.NewState(), rates: rates.New(cfg.scalingFor(binding).window(cfg.CollectionInterval))}
	if cfg.readCommitted() {
		m.residue = residue.NewMemory()
	}
	if cfg.Bindings[binding].IsShare() {
		m.shareReset = &sharereset.Memory{}
	}
	return m
}

// topicMemory is what the receiver keeps about one topic between
// observations, for all its bindings: at 10 bindings a topic, one table of
// high watermarks instead of ten equal ones.
type topicMemory struct {
	// produced counts the messages produced to the topic.
	produced production.Counter
	// observation is the last observation that read the topic, and
	// producedTotal the count of produced then.
	observation   uint64
	producedTotal int64
}
