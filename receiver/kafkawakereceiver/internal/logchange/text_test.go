package logchange

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestTextChangesOnlyWhenTheTextDoes(t *testing.T) {
	var text Text
	assert.False(t, text.Changed(""), "no problem at first, and none now")
	assert.True(t, text.Changed("broker down"))
	assert.False(t, text.Changed("broker down"), "the same cause again")
	assert.True(t, text.Changed("topic missing"))
	assert.True(t, text.Changed(""), "a recovery is a change")
}

func TestTrackerKeepsATextPerKey(t *testing.T) {
	var tracker Tracker[string]
	assert.True(t, tracker.Changed("orders", "denied"))
	assert.True(t, tracker.Changed("payments", "denied"), "another key has its own text")
	assert.False(t, tracker.Changed("orders", "denied"))
	assert.True(t, tracker.Changed("orders", ""))
	assert.False(t, tracker.Changed("orders", ""))
	assert.Len(t, tracker.texts, 1, "a recovered key is forgotten")
}
