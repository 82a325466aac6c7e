package coordination // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/coordination"

import (
	"encoding/binary"
	"fmt"
)

// The same encoding carries a member's configured bindings in its join
// metadata and its share in the leader's assignment: a version, a count and
// the binding IDs, big-endian.
const wireVersion int16 = 1

func encodeBindings(ids []BindingID) []byte {
	buf := make([]byte, 0, 6+8*len(ids))
	buf = binary.BigEndian.AppendUint16(buf, uint16(wireVersion))
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(ids)))
	for _, id := range ids {
		buf = binary.BigEndian.AppendUint64(buf, uint64(id))
	}
	return buf
}

func decodeBindings(buf []byte) ([]BindingID, error) {
	if len(buf) < 6 {
		return nil, fmt.Errorf("binding list of %d bytes is shorter than its header", len(buf))
	}
	if v := int16(binary.BigEndian.Uint16(buf)); v != wireVersion {
		return nil, fmt.Errorf("binding list version %d, this replica reads version %d: run the same kafkawake version on every replica", v, wireVersion)
	}
	n := binary.BigEndian.Uint32(buf[2:])
	body := buf[6:]
	if uint64(len(body)) != 8*uint64(n) {
		return nil, fmt.Errorf("binding list announces %d bindings but carries %d bytes", n, len(body))
	}
	ids := make([]BindingID, n)
	for i := range ids {
		ids[i] = BindingID(binary.BigEndian.Uint64(body[8*i:]))
	}
	return ids, nil
}
