package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestEachGoBenchmarkKeepsItsMedianRun(t *testing.T) {
	out := `goos: linux
pkg: example.com/a
BenchmarkX     	     100	   3000000 ns/op	   40 allocs/op
BenchmarkX-2   	     100	   9000000 ns/op	   41 allocs/op
BenchmarkX     	     120	   1000000 ns/op	   42 allocs/op
BenchmarkX-2   	     100	   8000000 ns/op	   43 allocs/op
BenchmarkX     	     110	   2000000 ns/op	   44 allocs/op
BenchmarkX-2   	     100	   7000000 ns/op	   45 allocs/op
pkg: example.com/b
BenchmarkX     	     5	   5 ns/op
`
	got := parseGoBenchmarks(out)
	if assert.Len(t, got, 3) {
		// The median run whole: its iterations and allocations with its time.
		assert.Equal(t, goBenchmark{pkg: "example.com/a", name: "BenchmarkX", procs: 1, n: 110,
			values: map[string]float64{"ns/op": 2e6, "allocs/op": 44}}, got[0])
		assert.Equal(t, 8e6, got[1].values["ns/op"])
		assert.Equal(t, 2, got[1].procs)
		// The same name in another package is another benchmark.
		assert.Equal(t, "example.com/b", got[2].pkg)
	}
}
