// Package logchange keeps logs to one line per change: a cause that
// persists is logged when it appears and when it clears, not at every
// observation.
package logchange

// Text remembers the last status text of one thing (a binding, a broker, a
// topic), so that its caller logs only when the text changes.
type Text struct{ last string }

// Changed records text and reports whether it differs from the previous
// one. The empty text means "no problem": a change to it is a recovery.
func (t *Text) Changed(text string) bool {
	if text == t.last {
		return false
	}
	t.last = text
	return true
}

// Tracker is a Text per key, for things that come and go (topics, brokers).
type Tracker[K comparable] struct{ texts map[K]string }

// Changed records text for key and reports whether it differs from the
// previous one; a key never seen before has the empty text.
func (t *Tracker[K]) Changed(key K, text string) bool {
	if t.texts[key] == text {
		return false
	}
	if t.texts == nil {
		t.texts = map[K]string{}
	}
	if text == "" {
		delete(t.texts, key)
	} else {
		t.texts[key] = text
	}
	return true
}
