package slimfaaswakeprocessor // import "github.com/kafkawake/kafkawake/processor/slimfaaswakeprocessor"

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	schema "github.com/kafkawake/kafkawake/internal/metadata"
)

// resourceID identifies the attributes of an input resource: the same
// (topic, group, function) reported by two resources (two clusters, two
// agents) is two bindings.
type resourceID uint64

// bindingKey identifies a binding by its input resource and the attributes
// of its data points.
type bindingKey struct {
	resource               resourceID
	topic, group, function string
}

// reasons lists every wake reason, in the order counters are emitted.
var reasons = [...]schema.AttributeReason{
	schema.AttributeReasonPending,
	schema.AttributeReasonActivity,
	schema.AttributeReasonPendingAndActivity,
}

// reasonCounts holds one cumulative count per reason, indexed by reason.
type reasonCounts [schema.AttributeReasonPendingAndActivity + 1]int64

// binding is the processor's memory of one (resource, topic, group, function).
type binding struct {
	key bindingKey
	// attributes holds topic, group and function as the counter points carry
	// them, built once: copying them is cheaper than putting them one by one.
	attributes pcommon.Map
	// startTime is when the binding was first observed, the start of its
	// cumulative counters: a binding forgotten and seen again starts anew.
	startTime pcommon.Timestamp
	// lastSeen is the time of the last batch that carried the binding.
	lastSeen time.Time
	state    bindingState
	wakeups  reasonCounts
	failures reasonCounts
	// seen is what the batch being processed says about the binding.
	seen batchView
}

func newBinding(key bindingKey, now time.Time) *binding {
	attributes := pcommon.NewMap()
	attributes.EnsureCapacity(3)
	attributes.PutStr(topicKey, key.topic)
	attributes.PutStr(groupKey, key.group)
	attributes.PutStr(functionKey, key.function)
	return &binding{key: key, attributes: attributes, startTime: pcommon.NewTimestampFromTime(now)}
}

// count adds the counts of one attempt for reason.
func (b *binding) count(reason schema.AttributeReason, c attemptCounts) {
	b.wakeups[reason] += c.wakeups
	b.failures[reason] += c.failures
}
