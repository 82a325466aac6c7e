package kedascalerexporter // import "github.com/kafkawake/kafkawake/exporter/kedascalerexporter"

// Schema names the shared slimfaaskafka schema does not define yet. The
// receiver is adding these two metrics; once they are in the root
// metadata.yaml, these names move to the generated schema and this file goes.
const (
	// bindingStatusMetric is a gauge per binding and status, 1 for the
	// binding's current status.
	bindingStatusMetric = "slimfaaskafka.binding_status"
	// desiredReplicasMetric is a gauge of the replicas a binding asks for.
	desiredReplicasMetric = "slimfaaskafka.desired_replicas"
	// statusAttribute is the binding_status attribute holding the status.
	statusAttribute = "status"
	// statusError is the status of a binding whose latest collection could
	// not read it.
	statusError = "error"
)
