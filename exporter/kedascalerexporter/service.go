package kedascalerexporter // import "github.com/kafkawake/kafkawake/exporter/kedascalerexporter"

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kafkawake/kafkawake/exporter/kedascalerexporter/internal/scalerstate"
	"github.com/kafkawake/kafkawake/exporter/kedascalerexporter/internal/trigger"
)

// scalerService answers KEDA's external-scaler calls from the store.
type scalerService struct {
	externalscaler.UnimplementedExternalScalerServer
	store *scalerstate.Store
	now   func() time.Time
}

func (s *scalerService) GetMetricSpec(_ context.Context, ref *externalscaler.ScaledObjectRef) (*externalscaler.GetMetricSpecResponse, error) {
	t, err := parseTrigger(ref)
	if err != nil {
		return nil, err
	}
	return &externalscaler.GetMetricSpecResponse{MetricSpecs: []*externalscaler.MetricSpec{{
		MetricName:      t.MetricName(),
		TargetSize:      int64(math.Ceil(t.Target)),
		TargetSizeFloat: t.Target,
	}}}, nil
}

func (s *scalerService) GetMetrics(_ context.Context, req *externalscaler.GetMetricsRequest) (*externalscaler.GetMetricsResponse, error) {
	t, res, err := s.evaluate(req.GetScaledObjectRef())
	if err != nil {
		return nil, err
	}
	return &externalscaler.GetMetricsResponse{MetricValues: []*externalscaler.MetricValue{{
		MetricName:       t.MetricName(),
		MetricValue:      int64(math.Round(res.Value)),
		MetricValueFloat: res.Value,
	}}}, nil
}

func (s *scalerService) IsActive(_ context.Context, ref *externalscaler.ScaledObjectRef) (*externalscaler.IsActiveResponse, error) {
	_, res, err := s.evaluate(ref)
	if err != nil {
		return nil, err
	}
	return &externalscaler.IsActiveResponse{Result: res.Active}, nil
}

// StreamIsActive sends the current activity, then every change. Each
// metric batch the exporter consumes wakes the stream at once; a timer
// covers what changes with time alone (a consumption leaving the active
// window, a value going stale). While the value is unknown it sends nothing;
// when no binding is selected any more it ends with NOT_FOUND.
func (s *scalerService) StreamIsActive(ref *externalscaler.ScaledObjectRef, stream grpc.ServerStreamingServer[externalscaler.IsActiveResponse]) error {
	t, err := parseTrigger(ref)
	if err != nil {
		return err
	}
	sub := s.store.Subscribe()
	defer sub.Close()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()

	var sent streamState
	for {
		res, err := s.store.Evaluate(t, s.now())
		send, next, err := sent.step(res, err)
		if err != nil {
			return err
		}
		if send {
			if err := stream.Send(&externalscaler.IsActiveResponse{Result: res.Active}); err != nil {
				return err
			}
		}
		sent = next
		var wake <-chan time.Time
		if !res.Until.IsZero() {
			timer.Reset(max(time.Until(res.Until), 0))
			wake = timer.C
		}
		select {
		case <-sub.C:
		case <-wake:
		case <-stream.Context().Done():
			return nil
		}
		timer.Stop() // since Go 1.23 a stopped timer delivers no stale tick
	}
}

// streamState is what a stream last told KEDA.
type streamState struct {
	// sent is whether the stream has told the current activity since it
	// opened or since its value was last unknown.
	sent   bool
	active bool
}

// step decides, from an evaluation, whether the stream sends res.Active,
// and returns the error that ends the stream. An unknown value sends
// nothing and makes the next known one be sent, changed or not.
func (st streamState) step(res scalerstate.Result, err error) (send bool, next streamState, end error) {
	var unavailable *scalerstate.UnavailableError
	switch {
	case errors.As(err, &unavailable):
		return false, streamState{}, nil
	case err != nil:
		return false, st, toStatus(err)
	case st.sent && st.active == res.Active:
		return false, st, nil
	}
	return true, streamState{sent: true, active: res.Active}, nil
}

func (s *scalerService) evaluate(ref *externalscaler.ScaledObjectRef) (trigger.Trigger, scalerstate.Result, error) {
	t, err := parseTrigger(ref)
	if err != nil {
		return trigger.Trigger{}, scalerstate.Result{}, err
	}
	res, err := s.store.Evaluate(t, s.now())
	if err != nil {
		return trigger.Trigger{}, scalerstate.Result{}, toStatus(err)
	}
	return t, res, nil
}

func parseTrigger(ref *externalscaler.ScaledObjectRef) (trigger.Trigger, error) {
	t, err := trigger.Parse(ref.GetScalerMetadata())
	if err != nil {
		return trigger.Trigger{}, status.Error(codes.InvalidArgument, err.Error())
	}
	return t, nil
}

// toStatus maps the store's errors to gRPC codes KEDA treats as failures, so
// its fallback applies.
func toStatus(err error) error {
	var notFound *scalerstate.NotFoundError
	var unavailable *scalerstate.UnavailableError
	switch {
	case errors.As(err, &notFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.As(err, &unavailable):
		return status.Error(codes.Unavailable, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}
