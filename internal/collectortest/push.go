package collectortest // import "github.com/kafkawake/kafkawake/internal/collectortest"

import (
	"context"
	"fmt"
	"net"
	"strings"

	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"google.golang.org/grpc"
	_ "google.golang.org/grpc/encoding/gzip" // the OTLP exporter compresses with gzip by default
)

// OTLPSink is an OTLP/gRPC metrics endpoint that hands every request to a
// function and answers at once, as a backend that keeps up would.
type OTLPSink struct {
	pmetricotlp.UnimplementedGRPCServer
	// Addr is where the sink listens, host:port.
	Addr    string
	server  *grpc.Server
	receive func(pmetric.Metrics)
}

// StartOTLPSink starts a sink on a free local port that calls receive with
// every request's metrics, one request at a time or several at once.
func StartOTLPSink(receive func(pmetric.Metrics)) (*OTLPSink, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	// Above gRPC's default of 4 MiB, so that a request too large for a
	// real backend is still counted rather than refused.
	s := &OTLPSink{Addr: lis.Addr().String(), server: grpc.NewServer(grpc.MaxRecvMsgSize(64 << 20)), receive: receive}
	pmetricotlp.RegisterGRPCServer(s.server, s)
	go func() { _ = s.server.Serve(lis) }()
	return s, nil
}

// Export implements pmetricotlp.GRPCServer.
func (s *OTLPSink) Export(_ context.Context, req pmetricotlp.ExportRequest) (pmetricotlp.ExportResponse, error) {
	s.receive(req.Metrics())
	return pmetricotlp.NewExportResponse(), nil
}

// Stop closes the sink and its connections.
func (s *OTLPSink) Stop() { s.server.Stop() }

// pushConsumers is how many requests the README's push pipeline encodes
// and sends at once (the exporter's default is 10): each holds its encoded
// request, about 1 MB for 10,000 points, in gRPC's buffers until sent.
const pushConsumers = 2

// WithOTLPPush turns a config that serves the Prometheus exporter into the
// README's push pipeline: the OTLP exporter sends to addr, behind a batch
// processor after slimfaaswake that splits each scrape into requests of at
// most batchPoints points.
func WithOTLPPush(config, addr string, batchPoints int) string {
	block := "exporters:\n  prometheus:\n"
	start := strings.Index(config, block)
	// The block ends at the next top-level key.
	end := start + len(block)
	for end < len(config) && config[end] == ' ' {
		end += strings.IndexByte(config[end:], '\n') + 1
	}
	config = config[:start] + fmt.Sprintf("exporters:\n  otlp_grpc:\n    endpoint: %s\n    tls:\n      insecure: true\n    sending_queue:\n      num_consumers: %d\n", addr, pushConsumers) + config[end:]
	config = strings.Replace(config, "processors:\n", fmt.Sprintf("processors:\n  batch:\n    send_batch_size: %d\n    send_batch_max_size: %d\n", batchPoints, batchPoints), 1)
	config = strings.Replace(config, "processors: [slimfaaswake]", "processors: [slimfaaswake, batch]", 1)
	return strings.Replace(config, "exporters: [prometheus]", "exporters: [otlp_grpc]", 1)
}
