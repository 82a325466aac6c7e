package logchange // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/logchange"

import (
	"fmt"
	"sync"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// The scraper controller logs every failed scrape at error level, with the
// scrape's error. A broker that stays down or a topic that stays missing
// would repeat the same line every collection interval; this core passes an
// entry on only when it differs from the previous one, so each cause is
// logged once per change. The scraper still returns its error every scrape.
type changeOnlyCore struct {
	zapcore.Core
	state *changeOnlyState
}

type changeOnlyState struct {
	mu   sync.Mutex
	last string
}

// ChangesOnly wraps logger so that an entry identical to the one before
// it (message and fields) is dropped.
func ChangesOnly(logger *zap.Logger) *zap.Logger {
	return logger.WithOptions(zap.WrapCore(func(core zapcore.Core) zapcore.Core {
		return &changeOnlyCore{Core: core, state: &changeOnlyState{}}
	}))
}

// With starts a separate history: entries of a derived logger carry other
// fields, which Write does not see.
func (c *changeOnlyCore) With(fields []zapcore.Field) zapcore.Core {
	return &changeOnlyCore{Core: c.Core.With(fields), state: &changeOnlyState{}}
}

func (c *changeOnlyCore) Check(entry zapcore.Entry, checked *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(entry.Level) {
		return checked.AddCore(entry, c)
	}
	return checked
}

func (c *changeOnlyCore) Write(entry zapcore.Entry, fields []zapcore.Field) error {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range fields {
		f.AddTo(enc)
	}
	key := entry.Level.String() + "\x00" + entry.Message + "\x00" + fmt.Sprint(enc.Fields) // fmt sorts map keys
	c.state.mu.Lock()
	repeated := key == c.state.last
	c.state.last = key
	c.state.mu.Unlock()
	if repeated {
		return nil
	}
	return c.Core.Write(entry, fields)
}
