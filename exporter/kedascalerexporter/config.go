package kedascalerexporter // import "github.com/kafkawake/kafkawake/exporter/kedascalerexporter"

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/config/confignet"
)

// Config is the kedascaler exporter's configuration.
type Config struct {
	// ServerConfig is the gRPC server KEDA connects to: endpoint, tls
	// (client_ca_file for mTLS), keepalive...
	configgrpc.ServerConfig `mapstructure:",squash"`
	// ActiveWindow is how long after a binding's last consumption it counts
	// as active.
	ActiveWindow time.Duration `mapstructure:"active_window"`
	// StaleAfter is how many of a binding's own reporting intervals its
	// value may go without a point before it is unknown.
	StaleAfter int `mapstructure:"stale_after"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// Validate names the field of every invalid value.
func (cfg *Config) Validate() error {
	var errs []error
	if err := validateEndpoint(cfg.NetAddr); err != nil {
		errs = append(errs, fmt.Errorf("endpoint: %w", err))
	}
	if cfg.ActiveWindow <= 0 {
		errs = append(errs, fmt.Errorf("active_window: must be positive, got %s", cfg.ActiveWindow))
	}
	if cfg.StaleAfter < 1 {
		errs = append(errs, fmt.Errorf("stale_after: must be at least 1 collection interval, got %d", cfg.StaleAfter))
	}
	return errors.Join(errs...)
}

// validateEndpoint checks a TCP endpoint before the collector starts, so a
// typo stops it at once instead of at the first listen.
func validateEndpoint(addr confignet.AddrConfig) error {
	if addr.Endpoint == "" {
		return errors.New("must not be empty")
	}
	if !strings.HasPrefix(string(addr.Transport), "tcp") {
		return nil
	}
	_, port, err := net.SplitHostPort(addr.Endpoint)
	if err != nil {
		return fmt.Errorf("must be host:port: %w", err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("port %q must be a number from 0 to 65535", port)
	}
	return nil
}
