package logchange

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestLogChangesOnly(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	logger := ChangesOnly(zap.New(core))
	logger.Error("Error scraping metrics", zap.Error(errors.New("topic missing")))
	logger.Error("Error scraping metrics", zap.Error(errors.New("topic missing")))
	logger.Error("Error scraping metrics", zap.Error(errors.New("broker down")))
	logger.Error("Error scraping metrics", zap.Error(errors.New("topic missing")))
	logger.Debug("below the level", zap.Int("n", 1))
	derived := logger.With(zap.String("component", "x"))
	derived.Info("started")
	derived.Info("started")
	logger.With(zap.String("component", "y")).Info("started")

	var got []string
	for _, e := range logs.All() {
		got = append(got, fmt.Sprint(e.Message, " ", e.ContextMap()))
	}
	assert.Equal(t, []string{
		"Error scraping metrics map[error:topic missing]",
		"Error scraping metrics map[error:broker down]",
		"Error scraping metrics map[error:topic missing]",
		"started map[component:x]",
		"started map[component:y]",
	}, got)
}
