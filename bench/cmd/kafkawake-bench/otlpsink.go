package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"google.golang.org/grpc"
	_ "google.golang.org/grpc/encoding/gzip" // the OTLP exporter compresses with gzip by default

	"github.com/kafkawake/kafkawake/internal/collectortest"
)

// otlpSink is an OTLP/gRPC metrics endpoint that keeps nothing but the
// counts the footprint run reports: a backend that answers at once, so that
// the collector's memory is its own.
type otlpSink struct {
	pmetricotlp.UnimplementedGRPCServer
	addr   string
	server *grpc.Server

	mu           sync.Mutex
	names        map[string]bool // metric names received so far
	points, size int             // received so far, and their encoded size
}

func startOTLPSink() (*otlpSink, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	// A scrape of 10,000 bindings is about 23 MB encoded: the batch
	// processor splits it into requests of at most pushBatchPoints points,
	// well under this limit (gRPC's default is 4 MiB, too small for one).
	server := grpc.NewServer(grpc.MaxRecvMsgSize(64 << 20))
	s := &otlpSink{addr: lis.Addr().String(), server: server, names: map[string]bool{}}
	pmetricotlp.RegisterGRPCServer(s.server, s)
	go func() { _ = s.server.Serve(lis) }()
	return s, nil
}

func (s *otlpSink) Export(_ context.Context, req pmetricotlp.ExportRequest) (pmetricotlp.ExportResponse, error) {
	md := req.Metrics()
	size := (&pmetric.ProtoMarshaler{}).MetricsSize(md)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.points += md.DataPointCount()
	s.size += size
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				s.names[m.Name()] = true
			}
		}
	}
	return pmetricotlp.NewExportResponse(), nil
}

// received is the points received so far and their encoded size.
func (s *otlpSink) received() (points, size int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.points, s.size
}

// waitFor waits until a push has carried the metric named name.
func (s *otlpSink) waitFor(ctx context.Context, col *collectortest.Collector, name string, timeout time.Duration) error {
	return col.WaitUntil(ctx, timeout, "push "+name, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.names[name]
	})
}

func (s *otlpSink) stop() { s.server.Stop() }

// pushBatchPoints bounds the points of one OTLP request: the batch
// processor splits each scrape into requests of at most this many, as an
// OTLP backend's request size limit requires.
const pushBatchPoints = 10000

// withOTLPPush makes a collector config push to addr with the OTLP exporter,
// through a batch processor that splits each scrape, instead of serving the
// Prometheus exporter.
func withOTLPPush(config, addr string) string {
	block := "exporters:\n  prometheus:\n"
	start := strings.Index(config, block)
	// The block ends at the next top-level key.
	end := start + len(block)
	for end < len(config) && config[end] == ' ' {
		end += strings.IndexByte(config[end:], '\n') + 1
	}
	config = config[:start] + fmt.Sprintf("exporters:\n  otlp_grpc:\n    endpoint: %s\n    tls:\n      insecure: true\n", addr) + config[end:]
	config = strings.Replace(config, "processors:\n", fmt.Sprintf("processors:\n  batch:\n    send_batch_size: %d\n    send_batch_max_size: %d\n", pushBatchPoints, pushBatchPoints), 1)
	config = strings.Replace(config, "processors: [slimfaaswake]", "processors: [slimfaaswake, batch]", 1)
	return strings.Replace(config, "exporters: [prometheus]", "exporters: [otlp_grpc]", 1)
}
