// Package e2e runs the ocb-built otelcol-kafkawake binary against an
// in-process Kafka cluster and a local wake endpoint. The tests need the
// binary: `make test-e2e` builds it and passes its path in
// KAFKAWAKE_COLLECTOR. They only build with the e2e tag.
package e2e
