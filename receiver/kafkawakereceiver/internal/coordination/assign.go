package coordination // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/coordination"

import (
	"cmp"
	"encoding/binary"
	"hash/fnv"
	"maps"
	"slices"
	"strings"
)

// BindingID names a binding the same way on every replica: a hash of the
// key the receiver derives from the binding's topic, group and function.
type BindingID uint64

// IDOf hashes a binding key.
func IDOf(key string) BindingID {
	h := fnv.New64a()
	h.Write([]byte(key))
	return BindingID(h.Sum64())
}

// MemberBindings is what a member advertised in its join: the bindings it
// is configured with.
type MemberBindings struct {
	MemberID string
	Bindings []BindingID
}

// Mismatch reports a member that lacks some of the bindings other members
// of the group configure; those bindings go to the members that have them.
type Mismatch struct {
	MemberID string
	Lacks    int // bindings configured by other members but not by this one
	Of       int // bindings configured by the group as a whole
}

// Assign gives every binding any member configures to exactly one of the
// members that configure it: the one with the highest rendezvous score for
// that binding, unless that member already holds a quarter more than an
// even share, in which case the next one. A member joining or leaving moves
// about 1/N of the bindings, the load stays even with few bindings, and the
// result does not depend on the order of members. Every member has an
// entry, empty if it owns nothing.
func Assign(members []MemberBindings) (map[string][]BindingID, []Mismatch) {
	type candidate struct {
		member string
		score  uint64
	}
	candidates := map[BindingID][]candidate{}
	for _, m := range members {
		for _, b := range m.Bindings {
			candidates[b] = append(candidates[b], candidate{m.MemberID, rendezvousScore(b, m.MemberID)})
		}
	}
	bindings := slices.Sorted(maps.Keys(candidates))
	capacity := 1
	if len(members) > 0 {
		capacity = max(1, (5*len(bindings)+4*len(members)-1)/(4*len(members)))
	}

	assignment := make(map[string][]BindingID, len(members))
	for _, m := range members {
		assignment[m.MemberID] = []BindingID{}
	}
	for _, b := range bindings {
		cs := candidates[b]
		slices.SortFunc(cs, func(x, y candidate) int {
			if c := cmp.Compare(y.score, x.score); c != 0 {
				return c
			}
			return strings.Compare(x.member, y.member)
		})
		owner := cs[0].member
		for _, c := range cs {
			if len(assignment[c.member]) < capacity {
				owner = c.member
				break
			}
		}
		assignment[owner] = append(assignment[owner], b)
	}

	var mismatches []Mismatch
	for _, m := range members {
		configured := map[BindingID]bool{}
		for _, b := range m.Bindings {
			configured[b] = true
		}
		if lacks := len(bindings) - len(configured); lacks > 0 {
			mismatches = append(mismatches, Mismatch{MemberID: m.MemberID, Lacks: lacks, Of: len(bindings)})
		}
	}
	return assignment, mismatches
}

// rendezvousScore is the weight of member for binding: FNV-1a over the pair,
// finished with a 64-bit mixer so that close inputs spread evenly.
func rendezvousScore(b BindingID, memberID string) uint64 {
	h := fnv.New64a()
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], uint64(b))
	h.Write(buf[:])
	h.Write([]byte(memberID))
	x := h.Sum64()
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}
