// Package sharereset knows where a share group starts on a partition it has
// not initialised: its share.auto.offset.reset group config, parsed and kept
// between reads, which are at most one a minute.
package sharereset // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/sharereset"

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/lag"
)

// RefreshEvery is how long a read setting is used before it is read again:
// operators rarely change it, and one DescribeConfigs a minute costs nothing.
const RefreshEvery = time.Minute

// Setting is a parsed share.auto.offset.reset.
type Setting struct {
	Reset lag.Reset
	// Window is the duration of a by_duration reset: the group starts at the
	// first record newer than now − Window. Zero for the others.
	Window time.Duration
}

// Latest is Kafka's default, used when the config is unset.
var Latest = Setting{Reset: lag.FromLatest}

// Parse reads a share.auto.offset.reset value: "earliest", "latest" or
// "by_duration:" followed by an ISO-8601 duration (PnDTnHnMn.nS), as Kafka
// accepts it. nil (unset) is latest.
func Parse(value *string) (Setting, error) {
	if value == nil {
		return Latest, nil
	}
	v := strings.TrimSpace(*value)
	switch strings.ToLower(v) {
	case "", "latest":
		return Latest, nil
	case "earliest":
		return Setting{Reset: lag.FromEarliest}, nil
	}
	if d, ok := strings.CutPrefix(strings.ToLower(v), "by_duration:"); ok {
		window, err := parseISODuration(d)
		if err != nil {
			return Setting{}, fmt.Errorf("share.auto.offset.reset %q: %w", v, err)
		}
		return Setting{Reset: lag.FromTimestamp, Window: window}, nil
	}
	return Setting{}, fmt.Errorf("share.auto.offset.reset %q: expected earliest, latest or by_duration:<ISO-8601 duration>", v)
}

var isoDuration = regexp.MustCompile(`^p(?:(\d+)d)?(?:t(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?)?$`)

// parseISODuration reads the days-to-seconds subset of ISO-8601 that
// Java's Duration.parse accepts, without a sign: a reset duration is never
// negative.
func parseISODuration(s string) (time.Duration, error) {
	m := isoDuration.FindStringSubmatch(s)
	if m == nil || s == "p" || strings.HasSuffix(s, "t") {
		return 0, fmt.Errorf("%q is not an ISO-8601 duration such as PT1H or P1DT12H", s)
	}
	var total time.Duration
	for i, unit := range []time.Duration{24 * time.Hour, time.Hour, time.Minute} {
		if m[i+1] == "" {
			continue
		}
		n, err := strconv.ParseInt(m[i+1], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%q: %w", s, err)
		}
		total += time.Duration(n) * unit
	}
	if m[4] != "" {
		secs, err := strconv.ParseFloat(m[4], 64)
		if err != nil {
			return 0, fmt.Errorf("%q: %w", s, err)
		}
		total += time.Duration(secs * float64(time.Second))
	}
	return total, nil
}

// Memory keeps one share group's setting between reads.
type Memory struct {
	setting Setting
	known   bool
	readAt  time.Time
	// err is why the setting is unknown; a failed refresh keeps a setting
	// read before.
	err error
}

// Due tells whether the setting should be read at now: never read, or read
// RefreshEvery ago.
func (m *Memory) Due(now time.Time) bool {
	return m.readAt.IsZero() || now.Sub(m.readAt) >= RefreshEvery
}

// Update records a read made at now: the raw value, or why it failed.
func (m *Memory) Update(now time.Time, value *string, readErr error) {
	m.readAt = now
	if readErr == nil {
		var s Setting
		if s, readErr = Parse(value); readErr == nil {
			m.setting, m.known, m.err = s, true, nil
			return
		}
	}
	if !m.known {
		m.err = readErr
	}
}

// Current is the setting, or why it is unknown.
func (m *Memory) Current() (Setting, error) {
	if !m.known {
		if m.err == nil {
			return Setting{}, fmt.Errorf("share.auto.offset.reset not read yet")
		}
		return Setting{}, m.err
	}
	return m.setting, nil
}
