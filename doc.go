// Package kafkawake holds the telemetry schema shared by the kafkawake
// receiver and the slimfaaswake processor. The schema lives in metadata.yaml;
// mdatagen turns it into internal/metadata, so metric names, units and
// attribute keys are written down once for both components.
package kafkawake // import "github.com/kafkawake/kafkawake"

//go:generate mdatagen metadata.yaml
