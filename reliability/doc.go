// Package reliability holds tests of the receiver and processor wired
// together as in a collector pipeline, under faults on the Kafka side and on
// the SlimFaas side, restarts, and bad input. The long soak runs only with
// -soak (for example `go test ./reliability -run Soak -soak 30m`).
package reliability
