package slimfaaswakeprocessor // import "github.com/kafkawake/kafkawake/processor/slimfaaswakeprocessor"

import (
	"encoding/binary"
	"hash/maphash"
	"math"
	"slices"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	schema "github.com/kafkawake/kafkawake/internal/metadata"
)

// Attribute keys; every slimfaaskafka metric shares the binding's three.
var (
	topicKey    = string(schema.SlimfaaskafkaPendingMessagesMetricAttributeKeyTopic)
	groupKey    = string(schema.SlimfaaskafkaPendingMessagesMetricAttributeKeyGroup)
	functionKey = string(schema.SlimfaaskafkaPendingMessagesMetricAttributeKeyFunction)
	reasonKey   = string(schema.SlimfaaskafkaWakeupsMetricAttributeKeyReason)
	statusKey   = string(schema.SlimfaaskafkaBindingStatusMetricAttributeKeyStatus)
)

// batchView is what the batch being processed says about one binding.
type batchView struct {
	// batch is the number of the batch the fields below belong to; an older
	// number means the binding is not in the current batch.
	batch uint64
	observation
	pendingTime  pcommon.Timestamp
	consumedTime pcommon.Timestamp
	ownedTime    pcommon.Timestamp
	// lastResource is the index of the last ResourceMetrics that listed the
	// binding, to list each binding once per resource.
	lastResource int
}

// bindingTable holds the processor's memory of every binding it has seen
// and of their functions, and indexes the bindings of the batch being
// processed. The index reuses its slices from batch to batch, and points go
// straight to the binding they belong to, so that a batch costs one map
// lookup per point and no allocation once its bindings are known.
type bindingTable struct {
	byKey map[bindingKey]*binding
	// functions holds the functions with a wake in flight or a hold.
	functions functionTable
	// expiry is how long a binding may be absent before it is forgotten.
	expiry time.Duration
	// nextSweep is when sweep next walks the table.
	nextSweep time.Time
	// seed keys the hash that tells input resources apart.
	seed  maphash.Seed
	batch uint64
	// observed lists the current batch's bindings in order of first
	// appearance, so that decisions and output do not depend on map
	// iteration order.
	observed []*binding
	// perResource lists, per ResourceMetrics index, the bindings it carried.
	perResource [][]*binding
	// statuses holds the receiver's status of the current batch's bindings
	// (binding_status), for the decision log; it never makes a binding.
	statuses map[bindingKey]string
}

// sweepsPerExpiry is how often, per binding expiry, the table is walked to
// free forgotten bindings: rarely enough that a batch does not pay for every
// binding, often enough that memory follows the input.
const sweepsPerExpiry = 4

func newBindingTable(expiry time.Duration) bindingTable {
	return bindingTable{
		byKey:     make(map[bindingKey]*binding),
		functions: newFunctionTable(),
		expiry:    expiry,
		seed:      maphash.MakeSeed(),
	}
}

// collect reads the pending and consumed points of md, received at now, into
// the bindings' views and indexes them. Points of the wrong type, without a
// numeric value, or without the three binding attributes are ignored. When a
// binding has several points of one metric in the batch, the most recent one
// wins.
func (t *bindingTable) collect(md pmetric.Metrics, now time.Time) {
	t.batch++
	t.observed = t.observed[:0]
	clear(t.statuses)
	rms := md.ResourceMetrics()
	t.perResource = slices.Grow(t.perResource[:0], rms.Len())[:rms.Len()]
	for r := range t.perResource {
		t.perResource[r] = t.perResource[r][:0]
	}
	for r := 0; r < rms.Len(); r++ {
		in := resourceInput{index: r, id: resourceIdentity(t.seed, rms.At(r).Resource().Attributes()), now: now}
		sms := rms.At(r).ScopeMetrics()
		for s := 0; s < sms.Len(); s++ {
			metrics := sms.At(s).Metrics()
			for m := 0; m < metrics.Len(); m++ {
				metric := metrics.At(m)
				switch {
				case metric.Name() == schema.MetricsInfo.SlimfaaskafkaPendingMessages.Name && metric.Type() == pmetric.MetricTypeGauge:
					t.addPoints(in, metric.Gauge().DataPoints(), setPending)
				case metric.Name() == schema.MetricsInfo.SlimfaaskafkaConsumedMessages.Name && metric.Type() == pmetric.MetricTypeSum &&
					metric.Sum().AggregationTemporality() == pmetric.AggregationTemporalityCumulative:
					t.addPoints(in, metric.Sum().DataPoints(), setConsumed)
				case metric.Name() == schema.MetricsInfo.SlimfaaskafkaBindingStatus.Name && metric.Type() == pmetric.MetricTypeGauge:
					t.addStatuses(in, metric.Gauge().DataPoints())
				case metric.Name() == schema.MetricsInfo.SlimfaaskafkaBindingOwned.Name && metric.Type() == pmetric.MetricTypeGauge:
					t.addPoints(in, metric.Gauge().DataPoints(), setOwned)
				}
			}
		}
	}
}

// resourceInput is the ResourceMetrics whose points are being read.
type resourceInput struct {
	index int
	id    resourceID
	now   time.Time
}

// expired reports whether b, absent from the input for longer than the
// expiry at now, is forgotten: it keeps no state and no counters, so that a
// binding this processor no longer receives (another replica took it over)
// starts anew if it comes back.
func (t *bindingTable) expired(b *binding, now time.Time) bool {
	return now.Sub(b.lastSeen) > t.expiry
}

// current reports whether b is still the binding remembered for its key: a
// wake call started for a binding since forgotten records nothing on it.
func (t *bindingTable) current(b *binding, now time.Time) bool {
	return t.byKey[b.key] == b && !t.expired(b, now)
}

// sweep frees the forgotten bindings and the functions with neither a wake
// in flight nor a hold left, at most sweepsPerExpiry times per expiry.
func (t *bindingTable) sweep(now time.Time) {
	if now.Before(t.nextSweep) {
		return
	}
	t.nextSweep = now.Add(t.expiry / sweepsPerExpiry)
	for key, b := range t.byKey {
		if t.expired(b, now) {
			delete(t.byKey, key)
		}
	}
	t.functions.sweep(now)
}

func setPending(v *batchView, value int64, ts pcommon.Timestamp) {
	if v.hasPending && ts < v.pendingTime {
		return
	}
	v.pending, v.hasPending, v.pendingTime = value, true, ts
}

func setConsumed(v *batchView, value int64, ts pcommon.Timestamp) {
	if v.hasConsumed && ts < v.consumedTime {
		return
	}
	v.consumed, v.hasConsumed, v.consumedTime = value, true, ts
}

// setOwned keeps the latest ownership point: 0 means another replica wakes
// the binding.
func setOwned(v *batchView, value int64, ts pcommon.Timestamp) {
	if v.ownedTime != 0 && ts < v.ownedTime {
		return
	}
	v.owner, v.ownedTime = ownerElsewhere, ts
	if value == 1 {
		v.owner = ownerHere
	}
}

func (t *bindingTable) addPoints(in resourceInput, points pmetric.NumberDataPointSlice, set func(*batchView, int64, pcommon.Timestamp)) {
	for i := 0; i < points.Len(); i++ {
		point := points.At(i)
		key, ok := bindingOf(in.id, point.Attributes())
		if !ok || point.Flags().NoRecordedValue() {
			continue
		}
		value, ok := intValue(point)
		if !ok {
			continue
		}
		set(&t.observe(key, in, i).seen, value, point.Timestamp())
	}
}

// addStatuses keeps the status at 1 of each binding.
func (t *bindingTable) addStatuses(in resourceInput, points pmetric.NumberDataPointSlice) {
	for i := 0; i < points.Len(); i++ {
		point := points.At(i)
		key, ok := bindingOf(in.id, point.Attributes())
		status, hasStatus := stringAttribute(point.Attributes(), statusKey)
		if value, isInt := intValue(point); !ok || !hasStatus || !isInt || value != 1 {
			continue
		}
		if t.statuses == nil {
			t.statuses = make(map[bindingKey]string)
		}
		t.statuses[key] = status
	}
}

// observe returns the binding of key, creating it on its first observation,
// and lists it in the current batch and under the resource as needed.
//
// hint is where the binding likely stands among those the resource carried
// so far in this batch: the receiver writes every metric's points in the
// same binding order, so the i-th point of a metric is usually the binding
// listed i-th, found without hashing its key. A binding listed there was
// observed in this batch already, so it is neither new nor expired.
func (t *bindingTable) observe(key bindingKey, in resourceInput, hint int) *binding {
	if listed := t.perResource[in.index]; hint < len(listed) && listed[hint].key == key {
		return listed[hint]
	}
	b, ok := t.byKey[key]
	if !ok || t.expired(b, in.now) {
		b = newBinding(key, in.now)
		t.byKey[key] = b
	}
	if b.seen.batch != t.batch {
		b.seen = batchView{batch: t.batch, lastResource: -1}
		b.lastSeen = in.now
		t.observed = append(t.observed, b)
	}
	if b.seen.lastResource != in.index {
		b.seen.lastResource = in.index
		t.perResource[in.index] = append(t.perResource[in.index], b)
	}
	return b
}

func bindingOf(resource resourceID, attrs pcommon.Map) (bindingKey, bool) {
	topic, ok1 := stringAttribute(attrs, topicKey)
	group, ok2 := stringAttribute(attrs, groupKey)
	function, ok3 := stringAttribute(attrs, functionKey)
	return bindingKey{resource: resource, topic: topic, group: group, function: function}, ok1 && ok2 && ok3
}

func stringAttribute(attrs pcommon.Map, key string) (string, bool) {
	v, ok := attrs.Get(key)
	if !ok || v.Type() != pcommon.ValueTypeStr || v.Str() == "" {
		return "", false
	}
	return v.Str(), true
}

// intValue reads an int point, or a double one holding a finite value that
// fits in an int64.
func intValue(point pmetric.NumberDataPoint) (int64, bool) {
	switch point.ValueType() {
	case pmetric.NumberDataPointValueTypeInt:
		return point.IntValue(), true
	case pmetric.NumberDataPointValueTypeDouble:
		v := point.DoubleValue()
		if math.IsNaN(v) || v < math.MinInt64 || v >= math.MaxInt64 {
			return 0, false
		}
		return int64(v), true
	}
	return 0, false
}

// resourceIdentity hashes a resource's attributes, whatever their order, so
// that bindings are told apart by resource at the cost of one hash per
// ResourceMetrics rather than per point.
func resourceIdentity(seed maphash.Seed, attrs pcommon.Map) resourceID {
	return resourceID(hashMap(seed, attrs))
}

// hashMap sums the hashes of the entries, which makes it independent of
// their order; keys are unique, so no two entries cancel out.
func hashMap(seed maphash.Seed, m pcommon.Map) uint64 {
	var sum uint64
	for key, value := range m.All() {
		var h maphash.Hash
		h.SetSeed(seed)
		h.WriteString(key)
		_ = h.WriteByte(valueEnd)
		hashValue(&h, seed, value)
		sum += h.Sum64()
	}
	return sum
}

// valueEnd ends each key and value in a hash: no UTF-8 text holds it, so no
// string runs into the next one.
const valueEnd = 0xff

func hashValue(h *maphash.Hash, seed maphash.Seed, v pcommon.Value) {
	var buf [8]byte
	_ = h.WriteByte(byte(v.Type()))
	switch v.Type() {
	case pcommon.ValueTypeStr:
		h.WriteString(v.Str())
	case pcommon.ValueTypeInt:
		_, _ = h.Write(binary.LittleEndian.AppendUint64(buf[:0], uint64(v.Int())))
	case pcommon.ValueTypeDouble:
		_, _ = h.Write(binary.LittleEndian.AppendUint64(buf[:0], math.Float64bits(v.Double())))
	case pcommon.ValueTypeBool:
		if v.Bool() {
			_ = h.WriteByte(1)
		}
	case pcommon.ValueTypeBytes:
		_, _ = h.Write(v.Bytes().AsRaw())
	case pcommon.ValueTypeMap:
		_, _ = h.Write(binary.LittleEndian.AppendUint64(buf[:0], hashMap(seed, v.Map())))
	case pcommon.ValueTypeSlice:
		for _, item := range v.Slice().All() {
			hashValue(h, seed, item)
		}
	}
	_ = h.WriteByte(valueEnd)
}
