package coordination // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/coordination"

import (
	"encoding/binary"
	"fmt"
)

// Two group protocols share the bindings. A member offers both, functions
// first; Kafka picks one every member offers, so a group that still holds a
// replica of an older kafkawake, which offers only bindingsProtocol, falls
// back to owning bindings one by one until that replica is gone.
const (
	// functionsProtocol: a member's join metadata lists its bindings with
	// the function each one wakes, and the leader gives every function, with
	// all its bindings, to one member.
	functionsProtocol = "v2"
	// bindingsProtocol: a member's join metadata lists its binding IDs, and
	// the leader gives each binding to one member on its own.
	bindingsProtocol = "v1"
)

// The metadata of the two protocols carries its own version: a version, a
// count and the IDs, big-endian; with functionsProtocol each binding ID
// follows its function's ID. A share, in the leader's assignment, is a
// binding list in either protocol, so older replicas read it.
const (
	bindingListVersion  int16 = 1
	functionListVersion int16 = 2
)

func encodeBindings(ids []BindingID) []byte {
	buf := make([]byte, 0, 6+8*len(ids))
	buf = binary.BigEndian.AppendUint16(buf, uint16(bindingListVersion))
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(ids)))
	for _, id := range ids {
		buf = binary.BigEndian.AppendUint64(buf, uint64(id))
	}
	return buf
}

func decodeBindings(buf []byte) ([]BindingID, error) {
	words, err := decodeWords(buf, bindingListVersion, 1, "binding list")
	if err != nil {
		return nil, err
	}
	ids := make([]BindingID, len(words))
	for i, w := range words {
		ids[i] = BindingID(w)
	}
	return ids, nil
}

func encodeFunctionBindings(bindings []Binding) []byte {
	buf := make([]byte, 0, 6+16*len(bindings))
	buf = binary.BigEndian.AppendUint16(buf, uint16(functionListVersion))
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(bindings)))
	for _, b := range bindings {
		buf = binary.BigEndian.AppendUint64(buf, uint64(b.Function))
		buf = binary.BigEndian.AppendUint64(buf, uint64(b.ID))
	}
	return buf
}

func decodeFunctionBindings(buf []byte) ([]Binding, error) {
	words, err := decodeWords(buf, functionListVersion, 2, "function list")
	if err != nil {
		return nil, err
	}
	bindings := make([]Binding, len(words)/2)
	for i := range bindings {
		bindings[i] = Binding{Function: FunctionID(words[2*i]), ID: BindingID(words[2*i+1])}
	}
	return bindings, nil
}

// decodeMetadata reads a member's join metadata in the group's protocol.
// Under bindingsProtocol each binding counts as a function of its own.
func decodeMetadata(protocol string, buf []byte) ([]Binding, error) {
	switch protocol {
	case functionsProtocol:
		return decodeFunctionBindings(buf)
	case bindingsProtocol:
		ids, err := decodeBindings(buf)
		bindings := make([]Binding, len(ids))
		for i, id := range ids {
			bindings[i] = Binding{ID: id, Function: FunctionID(id)}
		}
		return bindings, err
	default:
		return nil, fmt.Errorf("group protocol %q is unknown to this replica: run the same kafkawake version on every replica", protocol)
	}
}

// decodeWords reads a header (version, count) and count entries of
// perEntry big-endian 64-bit words.
func decodeWords(buf []byte, version int16, perEntry uint64, what string) ([]uint64, error) {
	if len(buf) < 6 {
		return nil, fmt.Errorf("%s of %d bytes is shorter than its header", what, len(buf))
	}
	if v := int16(binary.BigEndian.Uint16(buf)); v != version {
		return nil, fmt.Errorf("%s version %d, this replica reads version %d: run the same kafkawake version on every replica", what, v, version)
	}
	n := uint64(binary.BigEndian.Uint32(buf[2:]))
	body := buf[6:]
	if uint64(len(body)) != 8*perEntry*n {
		return nil, fmt.Errorf("%s announces %d entries but carries %d bytes", what, n, len(body))
	}
	words := make([]uint64, len(body)/8)
	for i := range words {
		words[i] = binary.BigEndian.Uint64(body[8*i:])
	}
	return words, nil
}
