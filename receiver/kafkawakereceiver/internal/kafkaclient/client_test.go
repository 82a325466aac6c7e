package kafkaclient

import (
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/kafka/configkafka"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
	"go.opentelemetry.io/collector/component/componenttest"
)

func TestClientOptionsMapTheConnectionKeys(t *testing.T) {
	cfg := configkafka.NewDefaultClientConfig()
	cfg.Brokers = []string{"127.0.0.1:1"}
	cfg.ClientID = "monitor"
	cfg.ProtocolVersion = "2.8.0"
	cfg.Metadata.RefreshInterval = 30 * time.Second
	cfg.Metadata.Retry.Max = 7
	cfg.DialTimeout = 3 * time.Second
	cfg.ConnIdleTimeout = time.Minute

	opts, err := Options(t.Context(), &cfg, componenttest.NewNopHost())
	require.NoError(t, err)
	client, err := kgo.NewClient(opts...)
	require.NoError(t, err)
	defer client.Close()

	tests := []struct {
		opt  any
		want any
	}{
		{kgo.SeedBrokers, []string{"127.0.0.1:1"}},
		{kgo.ClientID, "monitor"},
		{kgo.MetadataMaxAge, 30 * time.Second},
		{kgo.RequestRetries, int64(7)},
		{kgo.DialTimeout, 3 * time.Second},
		{kgo.ConnIdleTimeout, time.Minute},
		{kgo.DisableClientMetrics, true},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, client.OptValue(tt.opt))
	}
	pinned := kversion.FromString("2.8.0")
	assert.True(t, pinned.Equal(client.OptValue(kgo.MaxVersions).(*kversion.Versions)), "protocol_version caps the request versions")
	assert.True(t, pinned.Equal(client.OptValue(kgo.MinVersions).(*kversion.Versions)), "and pins them, as contrib's Kafka components do")
}

func TestRetryBackoff(t *testing.T) {
	tests := []struct {
		name    string
		initial time.Duration
		jitter  float64
		want    []time.Duration // after 1, 2, 3... failed tries
	}{
		{"doubles up to 5s", 250 * time.Millisecond, 0.5, []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}},
		{"spread down by 20%", time.Second, 0, []time.Duration{800 * time.Millisecond, 1600 * time.Millisecond, 3200 * time.Millisecond, 4 * time.Second}},
		{"spread up, never past the ceiling", time.Second, 0.999999, []time.Duration{1199999600 * time.Nanosecond, 2399999200 * time.Nanosecond, 4799998400 * time.Nanosecond, 5 * time.Second}},
		{"a backoff above 5s is the ceiling", 8 * time.Second, 0.5, []time.Duration{8 * time.Second, 8 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			backoff := retryBackoff(tt.initial, func() float64 { return tt.jitter })
			for i, want := range tt.want {
				assert.Equal(t, want, backoff(i+1), "after %d failed tries", i+1)
			}
		})
	}
}

func TestOffsetFetchStopsAtTheLastVersionNamingTopics(t *testing.T) {
	key := kmsg.OffsetFetch.Int16()
	tests := []struct {
		name, protocolVersion string
		want                  int16
	}{
		{"franz-go's stable versions are lowered", "", lastOffsetFetchByName},
		{"a pinned broker version above it is lowered both ways", "4.4.0", lastOffsetFetchByName},
		{"a pinned broker version at or below it stays", "2.8.0", 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := configkafka.NewDefaultClientConfig()
			cfg.ProtocolVersion = tt.protocolVersion
			opts, err := Options(t.Context(), &cfg, componenttest.NewNopHost())
			require.NoError(t, err)
			client, err := kgo.NewClient(opts...)
			require.NoError(t, err)
			defer client.Close()
			want := kversion.Stable()
			if tt.protocolVersion != "" {
				want = kversion.FromString(tt.protocolVersion)
			}
			uncapped, _ := want.LookupMaxKeyVersion(key)
			require.Equal(t, tt.want < uncapped, tt.want == lastOffsetFetchByName, "the case's versions are on the side of the cap its name says")

			got, _ := client.OptValue(kgo.MaxVersions).(*kversion.Versions).LookupMaxKeyVersion(key)
			assert.Equal(t, tt.want, got)
			if tt.protocolVersion != "" {
				floor, _ := client.OptValue(kgo.MinVersions).(*kversion.Versions).LookupMaxKeyVersion(key)
				assert.Equal(t, tt.want, floor, "the pin never asks for more than the cap")
			}
			// No other request is touched.
			produce, _ := client.OptValue(kgo.MaxVersions).(*kversion.Versions).LookupMaxKeyVersion(kmsg.Produce.Int16())
			wantProduce, _ := want.LookupMaxKeyVersion(kmsg.Produce.Int16())
			assert.Equal(t, wantProduce, produce)
		})
	}
}
