package coordination

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// functionBindings configures n functions, function i with 1 + i%3
// bindings.
func functionBindings(n int) []Binding {
	var bindings []Binding
	for i := range n {
		f := FunctionIDOf(fmt.Sprintf("function-%d", i))
		for j := range 1 + i%3 {
			bindings = append(bindings, Binding{ID: IDOf(fmt.Sprintf("binding-%d-%d", i, j)), Function: f})
		}
	}
	return bindings
}

// ownBindings configures n bindings, each the only one of its function, as
// the bindings protocol sees them.
func ownBindings(n int) []Binding {
	bindings := make([]Binding, n)
	for i := range bindings {
		id := IDOf(fmt.Sprintf("binding-%d", i))
		bindings[i] = Binding{ID: id, Function: FunctionID(id)}
	}
	return bindings
}

func membersWith(bindings []Binding, names ...string) []MemberBindings {
	members := make([]MemberBindings, len(names))
	for i, name := range names {
		members[i] = MemberBindings{MemberID: name, Bindings: bindings}
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

// functionOwners maps every function to its owner, failing on a function
// whose bindings are owned by two members or a binding without owner.
func functionOwners(t *testing.T, bindings []Binding, assignment map[string][]BindingID) map[FunctionID]string {
	t.Helper()
	owners := ownerOf(t, assignment)
	functions := map[FunctionID]string{}
	for _, b := range bindings {
		owner, ok := owners[b.ID]
		require.True(t, ok, "binding %d has no owner", b.ID)
		if prev, seen := functions[b.Function]; seen && prev != owner {
			t.Fatalf("function %d owned by both %s and %s", b.Function, prev, owner)
		}
		functions[b.Function] = owner
	}
	return functions
}

func functionsPerMember(owners map[FunctionID]string) map[string]int {
	counts := map[string]int{}
	for _, member := range owners {
		counts[member]++
	}
	return counts
}

func TestAssignGivesEveryFunctionOneOwnerAndBalances(t *testing.T) {
	bindings := functionBindings(3000)
	assignment, mismatches := Assign(membersWith(bindings, "a", "b", "c"))
	assert.Empty(t, mismatches)
	owners := functionOwners(t, bindings, assignment)
	assert.Len(t, owners, 3000)
	for member, n := range functionsPerMember(owners) {
		// 1,000 functions each on average; rendezvous hashing stays within
		// a few standard deviations (about 26) of it.
		assert.InDelta(t, 1000, n, 100, "member %s", member)
	}
}

func TestAssignBalancesFewFunctions(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	for range 200 {
		functions, members := 1+rng.IntN(20), 1+rng.IntN(5)
		names := make([]string, members)
		for i := range names {
			names[i] = fmt.Sprintf("member-%d", rng.Uint64())
		}
		bindings := functionBindings(functions)
		owners := functionOwners(t, bindings, first(Assign(membersWith(bindings, names...))))
		assert.Len(t, owners, functions)
		limit := max(1, (5*functions+4*members-1)/(4*members))
		for member, n := range functionsPerMember(owners) {
			assert.LessOrEqual(t, n, limit, "%s holds %d of %d functions among %d members", member, n, functions, members)
		}
	}
}

func TestAssignMovesOnlyTheJoinersAndLeaversFunctions(t *testing.T) {
	bindings := functionBindings(3000)
	owners := func(names ...string) map[FunctionID]string {
		return functionOwners(t, bindings, first(Assign(membersWith(bindings, names...))))
	}
	before := owners("a", "b", "c")

	movedOnJoin := 0
	for f, owner := range owners("a", "b", "c", "d") {
		if owner != before[f] {
			movedOnJoin++
			assert.Equal(t, "d", owner, "a join moves functions only to the joiner")
		}
	}
	assert.InDelta(t, 3000/4, movedOnJoin, 100, "about 1/N of the functions move to the joiner")

	movedOnLeave := 0
	for f, owner := range owners("a", "c") {
		if owner != before[f] {
			movedOnLeave++
			assert.Equal(t, "b", before[f], "a leave moves only the leaver's functions")
		}
	}
	assert.Equal(t, functionsPerMember(before)["b"], movedOnLeave)
}

func TestAssignDoesNotDependOnMemberOrder(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	members := membersWith(functionBindings(500), "a", "b", "c", "d", "e")
	want := first(Assign(members))
	for range 20 {
		rng.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
		assert.Equal(t, want, first(Assign(members)))
	}
}

// With each binding a function of its own, as the bindings protocol reads
// an older replica's metadata, bindings are shared one by one.
func TestAssignSharesBindingsOneByOneWhenEachIsItsOwnFunction(t *testing.T) {
	bindings := ownBindings(300)
	owners := ownerOf(t, first(Assign(membersWith(bindings, "a", "b", "c"))))
	assert.Len(t, owners, 300)
	perMember := map[string]int{}
	for _, member := range owners {
		perMember[member]++
	}
	for member, n := range perMember {
		assert.LessOrEqual(t, n, 125, "member %s", member)
	}
}

// A function whose bindings differ between members goes to a member that
// configures them all; without one, each binding the owner lacks goes to a
// member that has it.
func TestAssignWithMismatchedFunctions(t *testing.T) {
	f, g := FunctionIDOf("f"), FunctionIDOf("g")
	f1, f2 := Binding{ID: IDOf("f1"), Function: f}, Binding{ID: IDOf("f2"), Function: f}
	g1, g2 := Binding{ID: IDOf("g1"), Function: g}, Binding{ID: IDOf("g2"), Function: g}
	for _, names := range [][2]string{{"a", "b"}, {"b", "a"}, {"x", "y"}, {"y", "x"}} {
		full, partial := names[0], names[1]
		members := []MemberBindings{
			{MemberID: full, Bindings: []Binding{f1, f2, g1}},
			{MemberID: partial, Bindings: []Binding{f1, g2}},
		}
		owners := ownerOf(t, first(Assign(members)))
		assert.Equal(t, full, owners[f1.ID], "f goes whole to the member that configures all of it")
		assert.Equal(t, full, owners[f2.ID])
		assert.Equal(t, full, owners[g1.ID], "no member configures all of g: each binding goes to the one that has it")
		assert.Equal(t, partial, owners[g2.ID])
		assert.Len(t, owners, 4)
	}
}

func TestAssignWithMismatchedBindingSets(t *testing.T) {
	ids := ownBindings(300)
	onlyA, shared, onlyC := ids[:50], ids[50:250], ids[250:]
	members := []MemberBindings{
		{MemberID: "a", Bindings: append(append([]Binding{}, onlyA...), shared...)},
		{MemberID: "b", Bindings: shared},
		{MemberID: "c", Bindings: append(append([]Binding{}, shared...), onlyC...)},
		{MemberID: "empty"},
	}
	assignment, mismatches := Assign(members)
	owners := ownerOf(t, assignment)
	assert.Len(t, owners, len(ids), "every binding any member configures has an owner")
	for _, b := range onlyA {
		assert.Equal(t, "a", owners[b.ID])
	}
	for _, b := range onlyC {
		assert.Equal(t, "c", owners[b.ID])
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
	for _, n := range []int{0, 1, 1000} {
		ids := make([]BindingID, n)
		for i, b := range ownBindings(n) {
			ids[i] = b.ID
		}
		got, err := decodeBindings(encodeBindings(ids))
		require.NoError(t, err)
		assert.Equal(t, ids, got)
	}
}

func TestFunctionListsRoundTrip(t *testing.T) {
	for _, bindings := range [][]Binding{{}, functionBindings(1), functionBindings(1000)} {
		got, err := decodeFunctionBindings(encodeFunctionBindings(bindings))
		require.NoError(t, err)
		assert.Equal(t, bindings, got)
	}
}

// The bindings protocol reads each binding as a function of its own; an
// unknown protocol is refused, naming it.
func TestDecodeMetadataFollowsTheGroupsProtocol(t *testing.T) {
	bindings := functionBindings(4)
	got, err := decodeMetadata(functionsProtocol, encodeFunctionBindings(bindings))
	require.NoError(t, err)
	assert.Equal(t, bindings, got)

	ids := []BindingID{bindings[0].ID, bindings[1].ID}
	got, err = decodeMetadata(bindingsProtocol, encodeBindings(ids))
	require.NoError(t, err)
	assert.Equal(t, []Binding{{ID: ids[0], Function: FunctionID(ids[0])}, {ID: ids[1], Function: FunctionID(ids[1])}}, got)

	_, err = decodeMetadata("v9", nil)
	assert.ErrorContains(t, err, `group protocol "v9" is unknown`)
	_, err = decodeMetadata(functionsProtocol, encodeBindings(ids))
	assert.ErrorContains(t, err, "function list version 1, this replica reads version 2")
}

func TestDecodeBindingsRejectsMalformedLists(t *testing.T) {
	valid := encodeBindings([]BindingID{1, 2})
	otherVersion := append([]byte{0, 9}, valid[2:]...)
	tests := map[string]struct {
		buf  []byte
		want string
	}{
		"empty":         {nil, "shorter than its header"},
		"other version": {otherVersion, "version 9"},
		"truncated":     {valid[:len(valid)-1], "announces 2 entries but carries 15 bytes"},
		"trailing":      {append(append([]byte{}, valid...), 0), "announces 2 entries but carries 17 bytes"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := decodeBindings(tt.buf)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

func first[A, B any](a A, _ B) A { return a }
