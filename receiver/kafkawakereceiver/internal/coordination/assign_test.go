package coordination

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func bindingIDs(n int) []BindingID {
	ids := make([]BindingID, n)
	for i := range ids {
		ids[i] = IDOf(fmt.Sprintf("binding-%d", i))
	}
	return ids
}

func membersWith(ids []BindingID, names ...string) []MemberBindings {
	members := make([]MemberBindings, len(names))
	for i, name := range names {
		members[i] = MemberBindings{MemberID: name, Bindings: ids}
	}
	return members
}

// ownerOf inverts an assignment, failing on a binding owned twice.
func ownerOf(t *testing.T, assignment map[string][]BindingID) map[BindingID]string {
	t.Helper()
	owners := map[BindingID]string{}
	for member, ids := range assignment {
		for _, id := range ids {
			if prev, dup := owners[id]; dup {
				t.Fatalf("binding %d owned by both %s and %s", id, prev, member)
			}
			owners[id] = member
		}
	}
	return owners
}

func TestAssignGivesEveryBindingOneOwnerAndBalances(t *testing.T) {
	ids := bindingIDs(3000)
	assignment, mismatches := Assign(membersWith(ids, "a", "b", "c"))
	assert.Empty(t, mismatches)
	assert.Len(t, ownerOf(t, assignment), len(ids))
	for member, owned := range assignment {
		// 1,000 each on average; rendezvous hashing stays within a few
		// standard deviations (about 26) of it.
		assert.InDelta(t, 1000, len(owned), 100, "member %s", member)
	}
}

func TestAssignBalancesFewBindings(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	for range 200 {
		bindings, members := 1+rng.IntN(20), 1+rng.IntN(5)
		names := make([]string, members)
		for i := range names {
			names[i] = fmt.Sprintf("member-%d", rng.Uint64())
		}
		assignment, _ := Assign(membersWith(bindingIDs(bindings), names...))
		assert.Len(t, ownerOf(t, assignment), bindings)
		limit := max(1, (5*bindings+4*members-1)/(4*members))
		for member, owned := range assignment {
			assert.LessOrEqual(t, len(owned), limit, "%s holds %d of %d bindings among %d members", member, len(owned), bindings, members)
		}
	}
}

func TestAssignMovesOnlyTheJoinersAndLeaversShare(t *testing.T) {
	ids := bindingIDs(3000)
	before := ownerOf(t, first(Assign(membersWith(ids, "a", "b", "c"))))

	joined := ownerOf(t, first(Assign(membersWith(ids, "a", "b", "c", "d"))))
	movedOnJoin := 0
	for id, owner := range joined {
		if owner != before[id] {
			movedOnJoin++
			assert.Equal(t, "d", owner, "a join moves bindings only to the joiner")
		}
	}
	assert.InDelta(t, len(ids)/4, movedOnJoin, 100, "about 1/N of the bindings move to the joiner")

	left := ownerOf(t, first(Assign(membersWith(ids, "a", "c"))))
	movedOnLeave := 0
	for id, owner := range left {
		if owner != before[id] {
			movedOnLeave++
			assert.Equal(t, "b", before[id], "a leave moves only the leaver's bindings")
		}
	}
	assert.Equal(t, len(first(Assign(membersWith(ids, "a", "b", "c")))["b"]), movedOnLeave)
}

func TestAssignDoesNotDependOnMemberOrder(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	ids := bindingIDs(500)
	members := membersWith(ids, "a", "b", "c", "d", "e")
	want := first(Assign(members))
	for range 20 {
		rng.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
		assert.Equal(t, want, first(Assign(members)))
	}
}

func TestAssignWithMismatchedBindingSets(t *testing.T) {
	ids := bindingIDs(300)
	onlyA, shared, onlyC := ids[:50], ids[50:250], ids[250:]
	members := []MemberBindings{
		{MemberID: "a", Bindings: append(append([]BindingID{}, onlyA...), shared...)},
		{MemberID: "b", Bindings: shared},
		{MemberID: "c", Bindings: append(append([]BindingID{}, shared...), onlyC...)},
		{MemberID: "empty"},
	}
	assignment, mismatches := Assign(members)
	owners := ownerOf(t, assignment)
	assert.Len(t, owners, len(ids), "every binding any member configures has an owner")
	for _, id := range onlyA {
		assert.Equal(t, "a", owners[id])
	}
	for _, id := range onlyC {
		assert.Equal(t, "c", owners[id])
	}
	assert.Empty(t, assignment["empty"])
	assert.Contains(t, assignment, "empty", "a member owning nothing still gets an assignment")
	assert.ElementsMatch(t, []Mismatch{
		{MemberID: "a", Lacks: 50, Of: 300},
		{MemberID: "b", Lacks: 100, Of: 300},
		{MemberID: "c", Lacks: 50, Of: 300},
		{MemberID: "empty", Lacks: 300, Of: 300},
	}, mismatches)
}

func TestBindingListsRoundTrip(t *testing.T) {
	for _, ids := range [][]BindingID{{}, bindingIDs(1), bindingIDs(1000)} {
		got, err := decodeBindings(encodeBindings(ids))
		require.NoError(t, err)
		assert.Equal(t, ids, got)
	}
}

func TestDecodeBindingsRejectsMalformedLists(t *testing.T) {
	valid := encodeBindings(bindingIDs(2))
	otherVersion := append([]byte{0, 9}, valid[2:]...)
	tests := map[string]struct {
		buf  []byte
		want string
	}{
		"empty":         {nil, "shorter than its header"},
		"other version": {otherVersion, "version 9"},
		"truncated":     {valid[:len(valid)-1], "announces 2 bindings but carries 15 bytes"},
		"trailing":      {append(append([]byte{}, valid...), 0), "announces 2 bindings but carries 17 bytes"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := decodeBindings(tt.buf)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

func first[A, B any](a A, _ B) A { return a }
