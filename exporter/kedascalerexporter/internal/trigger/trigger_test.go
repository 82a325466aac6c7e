package trigger

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseDefaults(t *testing.T) {
	got, err := Parse(map[string]string{"function": " orders ", "scalerAddress": "collector:6000"})
	require.NoError(t, err)
	assert.Equal(t, Trigger{Selector: Selector{Function: "orders"}, Metric: PendingMessages, Target: 100, Activation: 0}, got)
}

func TestParseEveryKey(t *testing.T) {
	got, err := Parse(map[string]string{
		"topic": "orders", "group": "order-processors", "clusterAlias": "eu",
		"metric": "pending_age", "targetValue": "2.5", "activationValue": "10",
	})
	require.NoError(t, err)
	assert.Equal(t, Trigger{
		Selector: Selector{Topic: "orders", Group: "order-processors", ClusterAlias: "eu"},
		Metric:   PendingAge, Target: 2.5, Activation: 10,
	}, got)
}

func TestParseErrorsNameTheKey(t *testing.T) {
	tests := []struct {
		name     string
		metadata map[string]string
		key      string
	}{
		{"no selector", map[string]string{"metric": "pending_messages"}, "function"},
		{"function and topic", map[string]string{"function": "f", "topic": "t", "group": "g"}, "function"},
		{"topic without group", map[string]string{"topic": "t"}, "group"},
		{"group without topic", map[string]string{"group": "g"}, "topic"},
		{"blank topic", map[string]string{"topic": " ", "group": "g"}, "topic"},
		{"unknown metric", map[string]string{"function": "f", "metric": "lag"}, "metric"},
		{"non-numeric target", map[string]string{"function": "f", "targetValue": "ten"}, "targetValue"},
		{"zero target", map[string]string{"function": "f", "targetValue": "0"}, "targetValue"},
		{"infinite target", map[string]string{"function": "f", "targetValue": "+Inf"}, "targetValue"},
		{"NaN activation", map[string]string{"function": "f", "activationValue": "NaN"}, "activationValue"},
		{"negative activation", map[string]string{"function": "f", "activationValue": "-1"}, "activationValue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.metadata)
			var keyErr *KeyError
			require.True(t, errors.As(err, &keyErr), "got %v", err)
			assert.Equal(t, tt.key, keyErr.Key)
			assert.Contains(t, err.Error(), `"`+tt.key+`"`)
		})
	}
}

func TestMetricName(t *testing.T) {
	tests := []struct {
		selector Selector
		want     string
	}{
		{Selector{Function: "process-orders"}, "kafkawake-process-orders"},
		{Selector{Function: "Process_Orders.v2"}, "kafkawake-process-orders-v2"},
		{Selector{Function: "café"}, "kafkawake-caf-"},
		{Selector{Topic: "Orders.EU", Group: "order_processors", ClusterAlias: "eu"}, "kafkawake-orders-eu-order-processors"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, Trigger{Selector: tt.selector}.MetricName())
	}
}

func TestSelectorString(t *testing.T) {
	assert.Equal(t, `function="f"`, Selector{Function: "f"}.String())
	assert.Equal(t, `topic="t" group="g" clusterAlias="eu"`, Selector{Topic: "t", Group: "g", ClusterAlias: "eu"}.String())
}
