package slimfaaswakeprocessor // import "github.com/kafkawake/kafkawake/processor/slimfaaswakeprocessor"

import "time"

// functionTable is the one owner of the per-function state: whether a wake
// call of the function is in flight, and until when SlimFaas holds it. Only
// functions with either are kept.
type functionTable struct {
	byName map[string]functionState
}

func newFunctionTable() functionTable {
	return functionTable{byName: make(map[string]functionState)}
}

// state is the function's state; a function not kept has the zero state.
func (t *functionTable) state(name string) functionState {
	return t.byName[name]
}

// begin marks a wake call of the function in flight.
func (t *functionTable) begin(name string) {
	f := t.byName[name]
	f.inFlight = true
	t.byName[name] = f
}

// end marks the function's wake call done at now, and forgets the function
// when nothing is left to remember.
func (t *functionTable) end(name string, now time.Time) {
	f := t.byName[name]
	f.inFlight = false
	t.set(name, f, now)
}

// hold sets the end of the function's hold, as the rules decided it.
func (t *functionTable) hold(name string, until, now time.Time) {
	f := t.byName[name]
	if until.Equal(f.heldUntil) {
		return
	}
	f.heldUntil = until
	t.set(name, f, now)
}

// sweep forgets the functions with neither a wake in flight nor a hold left.
func (t *functionTable) sweep(now time.Time) {
	for name, f := range t.byName {
		if f.idle(now) {
			delete(t.byName, name)
		}
	}
}

// inFlight tells whether any wake call is in flight.
func (t *functionTable) inFlight() bool {
	for _, f := range t.byName {
		if f.inFlight {
			return true
		}
	}
	return false
}

func (t *functionTable) set(name string, f functionState, now time.Time) {
	if f.idle(now) {
		delete(t.byName, name)
		return
	}
	t.byName[name] = f
}
