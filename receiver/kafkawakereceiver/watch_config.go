package kafkawakereceiver // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver"

import (
	"fmt"
	"time"
)

const (
	defaultWatchMaxWait = 5 * time.Second
	// maxWatchMaxWait bounds how long a silently dropped connection can hold
	// a long poll: each poll gives up max_wait plus the timeout after it
	// was sent.
	maxWatchMaxWait = 30 * time.Second
)

// WatchConfig turns on long polls of the partitions of idle bindings.
type WatchConfig struct {
	// Enabled needs Read on the bound topics.
	Enabled bool `mapstructure:"enabled"`
	// MaxWait is how long one long poll waits at the broker for a message.
	MaxWait time.Duration `mapstructure:"max_wait"`

	// prevent unkeyed literal initialization
	_ struct{}
}

func defaultWatchConfig() WatchConfig {
	return WatchConfig{MaxWait: defaultWatchMaxWait}
}

func (w *WatchConfig) validate() []error {
	if w.MaxWait <= 0 || w.MaxWait > maxWatchMaxWait {
		return []error{fmt.Errorf("watch.max_wait: must be above 0 and at most %s, got %s", maxWatchMaxWait, w.MaxWait)}
	}
	return nil
}
