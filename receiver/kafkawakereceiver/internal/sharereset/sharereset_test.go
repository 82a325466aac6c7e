package sharereset

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/lag"
)

func TestParse(t *testing.T) {
	str := func(s string) *string { return &s }
	tests := []struct {
		value *string
		want  Setting
	}{
		{nil, Latest},
		{str("latest"), Latest},
		{str("EARLIEST"), Setting{Reset: lag.FromEarliest}},
		{str("by_duration:PT1H"), Setting{Reset: lag.FromTimestamp, Window: time.Hour}},
		{str("by_duration:P1DT12H30M"), Setting{Reset: lag.FromTimestamp, Window: 36*time.Hour + 30*time.Minute}},
		{str("by_duration:PT0.5S"), Setting{Reset: lag.FromTimestamp, Window: 500 * time.Millisecond}},
		{str("by_duration:P2D"), Setting{Reset: lag.FromTimestamp, Window: 48 * time.Hour}},
	}
	for _, tt := range tests {
		got, err := Parse(tt.value)
		require.NoError(t, err)
		assert.Equal(t, tt.want, got)
	}
	for _, bad := range []string{"none", "by_duration:", "by_duration:P", "by_duration:PT", "by_duration:1h", "by_duration:-PT1H"} {
		_, err := Parse(&bad)
		assert.Error(t, err, bad)
	}
}

func TestMemoryRefreshesEveryMinuteAndKeepsAKnownSetting(t *testing.T) {
	t0 := time.Unix(1000, 0)
	earliest := "earliest"
	var m Memory
	assert.True(t, m.Due(t0))
	_, err := m.Current()
	assert.Error(t, err, "unknown before the first read")

	m.Update(t0, nil, errors.New("not authorized"))
	_, err = m.Current()
	assert.ErrorContains(t, err, "not authorized", "a failed first read is the reason")
	assert.False(t, m.Due(t0.Add(RefreshEvery-time.Second)), "at most one read a minute, failed or not")

	m.Update(t0.Add(RefreshEvery), &earliest, nil)
	s, err := m.Current()
	require.NoError(t, err)
	assert.Equal(t, lag.FromEarliest, s.Reset)

	m.Update(t0.Add(2*RefreshEvery), nil, errors.New("broker down"))
	s, err = m.Current()
	require.NoError(t, err, "a failed refresh keeps what was read")
	assert.Equal(t, lag.FromEarliest, s.Reset)
	assert.True(t, m.Due(t0.Add(3*RefreshEvery)))
}
