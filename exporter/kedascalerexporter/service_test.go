package kedascalerexporter

import (
	"context"
	"testing"
	"time"

	"github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kafkawake/kafkawake/exporter/kedascalerexporter/internal/scalerstate"
)

func requireCode(t *testing.T, err error, code codes.Code, contains string) {
	t.Helper()
	require.Error(t, err)
	st, ok := status.FromError(err)
	require.True(t, ok, "not a gRPC status: %v", err)
	assert.Equal(t, code, st.Code(), st.Message())
	assert.Contains(t, st.Message(), contains)
}

func TestGetMetricSpecFromMetadataAlone(t *testing.T) {
	_, client := startScaler(t, nil)
	ctx := rpcContext(t)

	// Asked before any metric arrived.
	spec, err := client.GetMetricSpec(ctx, ref(map[string]string{"function": "Process_Orders", "targetValue": "12.5"}))
	require.NoError(t, err)
	require.Len(t, spec.MetricSpecs, 1)
	assert.Equal(t, "kafkawake-process-orders", spec.MetricSpecs[0].MetricName)
	assert.Equal(t, 12.5, spec.MetricSpecs[0].TargetSizeFloat)
	assert.Equal(t, int64(13), spec.MetricSpecs[0].TargetSize)

	spec, err = client.GetMetricSpec(ctx, ref(map[string]string{"topic": "orders.eu", "group": "order-processors"}))
	require.NoError(t, err)
	assert.Equal(t, "kafkawake-orders-eu-order-processors", spec.MetricSpecs[0].MetricName)
	assert.Equal(t, 100.0, spec.MetricSpecs[0].TargetSizeFloat)

	for key, metadata := range map[string]map[string]string{
		"function":        {},
		"group":           {"topic": "orders"},
		"metric":          {"function": "f", "metric": "lag"},
		"targetValue":     {"function": "f", "targetValue": "many"},
		"activationValue": {"function": "f", "activationValue": "x"},
	} {
		_, err := client.GetMetricSpec(ctx, ref(metadata))
		requireCode(t, err, codes.InvalidArgument, `"`+key+`"`)
		_, err = client.GetMetrics(ctx, &externalscaler.GetMetricsRequest{ScaledObjectRef: ref(metadata)})
		requireCode(t, err, codes.InvalidArgument, `"`+key+`"`)
		_, err = client.IsActive(ctx, ref(metadata))
		requireCode(t, err, codes.InvalidArgument, `"`+key+`"`)
	}
}

func TestGetMetricsAndIsActive(t *testing.T) {
	e, client := startScaler(t, nil)
	ctx := rpcContext(t)
	now := time.Now()
	e.consume(t, newBatch(now).
		pending(ordersEU, 30).pending(ordersUS, 12).pending(refunds, 0).
		age(ordersEU, 4.5).age(ordersUS, 7.25).age(refunds, 0).
		desired(ordersEU, 1).desired(ordersUS, 2).desired(refunds, 0))

	value := func(metadata map[string]string) float64 {
		t.Helper()
		res, err := client.GetMetrics(ctx, &externalscaler.GetMetricsRequest{ScaledObjectRef: ref(metadata), MetricName: "kafkawake-x"})
		require.NoError(t, err)
		require.Len(t, res.MetricValues, 1)
		v := res.MetricValues[0]
		assert.Equal(t, int64(v.MetricValueFloat+0.5), v.MetricValue)
		return v.MetricValueFloat
	}
	assert.Equal(t, 42.0, value(map[string]string{"function": "process-orders"}))
	assert.Equal(t, 30.0, value(map[string]string{"function": "process-orders", "clusterAlias": "eu"}))
	assert.Equal(t, 12.0, value(map[string]string{"topic": "orders", "group": "order-processors", "clusterAlias": "us"}))
	assert.Equal(t, 7.25, value(map[string]string{"function": "process-orders", "metric": "pending_age"}))
	assert.Equal(t, 3.0, value(map[string]string{"function": "process-orders", "metric": "desired_replicas"}))
	assert.Equal(t, 0.0, value(map[string]string{"topic": "refunds", "group": "refund-processors"}))

	active := func(metadata map[string]string) bool {
		t.Helper()
		res, err := client.IsActive(ctx, ref(metadata))
		require.NoError(t, err)
		return res.Result
	}
	assert.True(t, active(map[string]string{"function": "process-orders"}))
	assert.False(t, active(map[string]string{"function": "process-orders", "activationValue": "42"}))
	assert.False(t, active(map[string]string{"topic": "refunds", "group": "refund-processors"}))

	// No selected binding: NOT_FOUND naming the metadata, for every call.
	missing := map[string]string{"function": "process-payments"}
	_, err := client.GetMetrics(ctx, &externalscaler.GetMetricsRequest{ScaledObjectRef: ref(missing)})
	requireCode(t, err, codes.NotFound, `function="process-payments"`)
	_, err = client.IsActive(ctx, ref(missing))
	requireCode(t, err, codes.NotFound, `function="process-payments"`)
	stream, err := client.StreamIsActive(ctx, ref(missing))
	require.NoError(t, err)
	_, err = stream.Recv()
	requireCode(t, err, codes.NotFound, `function="process-payments"`)
}

func TestUnreadableBindingAnswersUnavailableNeverAPartialSum(t *testing.T) {
	e, client := startScaler(t, nil)
	ctx := rpcContext(t)
	now := time.Now()
	e.consume(t, newBatch(now).pending(ordersEU, 30).status(ordersEU, "waiting").pending(refunds, 5).status(refunds, "waiting"))
	// refunds' topic is gone: its collection reports error and no value.
	e.consume(t, newBatch(now.Add(time.Second)).pending(ordersEU, 31).status(ordersEU, "waiting").status(refunds, statusError))

	fn := map[string]string{"function": "process-orders"}
	_, err := client.GetMetrics(ctx, &externalscaler.GetMetricsRequest{ScaledObjectRef: ref(fn)})
	requireCode(t, err, codes.Unavailable, `topic "refunds"`)
	_, err = client.IsActive(ctx, ref(fn))
	requireCode(t, err, codes.Unavailable, "binding_status error")

	// A binding whose metric is not exported at all is unavailable too.
	_, err = client.GetMetrics(ctx, &externalscaler.GetMetricsRequest{ScaledObjectRef: ref(map[string]string{
		"topic": "orders", "group": "order-processors", "metric": "desired_replicas",
	})})
	requireCode(t, err, codes.Unavailable, "no desired_replicas point")
}

// recvAll forwards a stream's messages and its final error.
func recvAll(stream grpc.ServerStreamingClient[externalscaler.IsActiveResponse]) (<-chan bool, <-chan error) {
	results := make(chan bool, 16)
	done := make(chan error, 1)
	go func() {
		for {
			res, err := stream.Recv()
			if err != nil {
				done <- err
				return
			}
			results <- res.Result
		}
	}()
	return results, done
}

func next(t *testing.T, results <-chan bool, done <-chan error) bool {
	t.Helper()
	select {
	case r := <-results:
		return r
	case err := <-done:
		t.Fatalf("stream ended: %v", err)
	case <-time.After(rpcTimeout):
		t.Fatal("no message on the stream")
	}
	return false
}

func TestStreamIsActive(t *testing.T) {
	e, client := startScaler(t, nil)
	ctx := rpcContext(t)
	at := time.Now()
	e.consume(t, newBatch(at).pending(ordersEU, 0).status(ordersEU, "idle"))

	stream, err := client.StreamIsActive(ctx, ref(map[string]string{"function": "process-orders"}))
	require.NoError(t, err)
	results, done := recvAll(stream)
	assert.False(t, next(t, results, done), "the current state on open")

	// The watch's early report: one message pending.
	at = at.Add(200 * time.Millisecond)
	e.consume(t, newBatch(at).pending(ordersEU, 1).status(ordersEU, "waiting"))
	assert.True(t, next(t, results, done), "pushed on change")

	// Back to nothing pending and no consumption: false is pushed too.
	at = at.Add(time.Second)
	e.consume(t, newBatch(at).pending(ordersEU, 0).status(ordersEU, "idle"))
	assert.False(t, next(t, results, done), "pushed on change")
}

func TestStreamStep(t *testing.T) {
	unavailable := &scalerstate.UnavailableError{Reason: "stale"}
	active := scalerstate.Result{Value: 3, Active: true}
	idle := scalerstate.Result{}

	var st streamState
	send, st, err := st.step(idle, nil)
	require.NoError(t, err)
	assert.True(t, send, "the current state on open")

	send, st, err = st.step(idle, nil)
	require.NoError(t, err)
	assert.False(t, send, "no change, nothing sent")

	send, st, err = st.step(active, nil)
	require.NoError(t, err)
	assert.True(t, send, "a change is sent")

	send, st, err = st.step(scalerstate.Result{}, unavailable)
	require.NoError(t, err, "an unknown value keeps the stream open")
	assert.False(t, send, "nothing is sent while the value is unknown")
	send, st, err = st.step(scalerstate.Result{}, unavailable)
	require.NoError(t, err)
	assert.False(t, send)

	send, st, err = st.step(active, nil)
	require.NoError(t, err)
	assert.True(t, send, "the state again once known, changed or not")

	_, _, err = st.step(scalerstate.Result{}, &scalerstate.NotFoundError{})
	requireCode(t, err, codes.NotFound, "no binding reported")
}

func TestClosedStreamsFreeTheirState(t *testing.T) {
	const streams = 50
	e, client := startScaler(t, nil)
	e.consume(t, newBatch(time.Now()).pending(ordersEU, 0))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for range streams {
		stream, err := client.StreamIsActive(ctx, ref(map[string]string{"function": "process-orders"}))
		require.NoError(t, err)
		results, done := recvAll(stream)
		assert.False(t, next(t, results, done))
	}
	assert.Equal(t, streams, e.store.Subscribers())
	cancel()
	require.Eventually(t, func() bool { return e.store.Subscribers() == 0 }, rpcTimeout, 10*time.Millisecond)
}

func TestShutdownEndsOpenStreams(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = "127.0.0.1:0"
	e := newScalerExporter(cfg, componenttestSettings(), time.Now)
	require.NoError(t, e.start(context.Background(), nopHost()))
	client, closeConn := dial(t, e.addr)
	defer closeConn()
	e.consume(t, newBatch(time.Now()).pending(ordersEU, 0))
	stream, err := client.StreamIsActive(rpcContext(t), ref(map[string]string{"function": "process-orders"}))
	require.NoError(t, err)
	results, done := recvAll(stream)
	assert.False(t, next(t, results, done))

	require.NoError(t, e.shutdown(context.Background()))
	select {
	case err := <-done:
		require.Error(t, err)
	case <-time.After(rpcTimeout):
		t.Fatal("the stream outlived the exporter")
	}
	require.Eventually(t, func() bool { return e.store.Subscribers() == 0 }, rpcTimeout, 10*time.Millisecond)
}
