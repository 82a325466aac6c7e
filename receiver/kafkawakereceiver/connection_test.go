package kafkawakereceiver

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kafkawake/kafkawake/internal/kafkatest"
)

func TestProtocolVersionScrapes(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(2, "orders"))
	c.Produce("orders", 0, 6)
	c.Commit("g1", "orders", 0, 2)
	c.Commit("g2", "orders", 0, 5)
	// 2.4 predates OffsetFetch for several groups in one request.
	s, _ := startScraperWith(t, func(cfg *Config) {
		cfg.Brokers = c.Kfake.ListenAddrs()
		cfg.ProtocolVersion = "2.4.0"
		cfg.Bindings = []BindingConfig{
			{Topic: "orders", ConsumerGroup: "g1", Function: "f1"},
			{Topic: "orders", ConsumerGroup: "g2", Function: "f2"},
		}
	})
	pts := scrapeOK(t, c, s)
	assert.Equal(t, int64(4), pts.intValue(t, pendingName, "f1"))
	assert.Equal(t, int64(1), pts.intValue(t, pendingName, "f2"))
}
