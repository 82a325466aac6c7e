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

// FunctionID names a function the same way on every replica: a hash of its
// name. It is the unit of ownership: one replica wakes a function, whatever
// number of bindings lead to it.
type FunctionID uint64

// IDOf hashes a binding key.
func IDOf(key string) BindingID { return BindingID(fnv64a(key)) }

// FunctionIDOf hashes a function name.
func FunctionIDOf(name string) FunctionID { return FunctionID(fnv64a(name)) }

func fnv64a(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// Binding is a configured binding and the function it wakes.
type Binding struct {
	ID       BindingID
	Function FunctionID
}

// MemberBindings is what a member advertised in its join: the bindings it
// is configured with.
type MemberBindings struct {
	MemberID string
	Bindings []Binding
}

// Mismatch reports a member that lacks some of the bindings other members
// of the group configure; those bindings go to the members that have them.
type Mismatch struct {
	MemberID string
	Lacks    int // bindings configured by other members but not by this one
	Of       int // bindings configured by the group as a whole
}

// Assign gives every function any member configures to exactly one member,
// with all its bindings, so that one replica wakes the function: the member
// with the highest rendezvous score for that function, unless that member
// already holds a quarter more functions than an even share, in which case
// the next one. A member joining or leaving moves about 1/N of the
// functions, the load stays even with few functions, and the result does
// not depend on the order of members. Every member has an entry, empty if
// it owns nothing.
//
// When the members configure different bindings for a function, the
// function goes to a member that configures all of them if there is one;
// otherwise each binding its owner lacks goes to the next member, in the
// same order, that configures it: every binding still has one owner among
// the members that configure it.
func Assign(members []MemberBindings) (map[string][]BindingID, []Mismatch) {
	type function struct {
		bindings     map[BindingID]bool
		configuredBy map[string]map[BindingID]bool
	}
	functions := map[FunctionID]*function{}
	groupBindings := map[BindingID]bool{}
	for _, m := range members {
		for _, b := range m.Bindings {
			f := functions[b.Function]
			if f == nil {
				f = &function{bindings: map[BindingID]bool{}, configuredBy: map[string]map[BindingID]bool{}}
				functions[b.Function] = f
			}
			if f.configuredBy[m.MemberID] == nil {
				f.configuredBy[m.MemberID] = map[BindingID]bool{}
			}
			f.bindings[b.ID], f.configuredBy[m.MemberID][b.ID], groupBindings[b.ID] = true, true, true
		}
	}
	ids := slices.Sorted(maps.Keys(functions))
	capacity := 1
	if len(members) > 0 {
		capacity = max(1, (5*len(ids)+4*len(members)-1)/(4*len(members)))
	}

	type candidate struct {
		member   string
		complete bool // configures every binding of the function
		score    uint64
	}
	assignment := make(map[string][]BindingID, len(members))
	for _, m := range members {
		assignment[m.MemberID] = []BindingID{}
	}
	load := make(map[string]int, len(members))
	for _, id := range ids {
		f := functions[id]
		cs := make([]candidate, 0, len(f.configuredBy))
		for member, configured := range f.configuredBy {
			cs = append(cs, candidate{member, len(configured) == len(f.bindings), rendezvousScore(uint64(id), member)})
		}
		slices.SortFunc(cs, func(x, y candidate) int {
			if x.complete != y.complete {
				if x.complete {
					return -1
				}
				return 1
			}
			if c := cmp.Compare(y.score, x.score); c != 0 {
				return c
			}
			return strings.Compare(x.member, y.member)
		})
		owner := cs[0].member
		for _, c := range cs {
			if c.complete != cs[0].complete {
				break
			}
			if load[c.member] < capacity {
				owner = c.member
				break
			}
		}
		load[owner]++
		for _, b := range slices.Sorted(maps.Keys(f.bindings)) {
			holder := owner
			if !f.configuredBy[owner][b] {
				for _, c := range cs {
					if f.configuredBy[c.member][b] {
						holder = c.member
						break
					}
				}
			}
			assignment[holder] = append(assignment[holder], b)
		}
	}

	var mismatches []Mismatch
	for _, m := range members {
		configured := map[BindingID]bool{}
		for _, b := range m.Bindings {
			configured[b.ID] = true
		}
		if lacks := len(groupBindings) - len(configured); lacks > 0 {
			mismatches = append(mismatches, Mismatch{MemberID: m.MemberID, Lacks: lacks, Of: len(groupBindings)})
		}
	}
	return assignment, mismatches
}

// rendezvousScore is the weight of member for a function: FNV-1a over the
// pair, finished with a 64-bit mixer so that close inputs spread evenly.
func rendezvousScore(id uint64, memberID string) uint64 {
	h := fnv.New64a()
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], id)
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
