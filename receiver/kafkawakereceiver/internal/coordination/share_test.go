package coordination

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/twmb/franz-go/pkg/kerr"
)

func TestShareIsFencedBeforeTheSessionTimesOut(t *testing.T) {
	const session = 10 * time.Second
	confirmedAt := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	held := share{generation: 3, indexes: []int{1, 4}, confirmedAt: confirmedAt}
	tests := map[string]struct {
		s     share
		after time.Duration
		want  []int
	}{
		"just confirmed":            {held, 0, []int{1, 4}},
		"several missed heartbeats": {held, 7 * time.Second, []int{1, 4}},
		"at the fence":              {held, 8 * time.Second, nil},
		"at the session timeout":    {held, session, nil},
		"no share":                  {share{}, 0, nil},
		"an empty share":            {share{generation: 3, indexes: []int{}, confirmedAt: confirmedAt}, 0, []int{}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.s.ownedAt(confirmedAt.Add(tt.after), session))
		})
	}
	assert.Less(t, fenceAfter(6*time.Second), 6*time.Second)
}

func TestMoved(t *testing.T) {
	tests := []struct {
		before, after, in, out []int
	}{
		{nil, []int{1, 2}, []int{1, 2}, nil},
		{[]int{1, 2}, nil, nil, []int{1, 2}},
		{[]int{1, 2, 5}, []int{2, 3, 5}, []int{3}, []int{1}},
		{[]int{1, 2}, []int{1, 2}, nil, nil},
	}
	for _, tt := range tests {
		in, out := moved(tt.before, tt.after)
		assert.Equal(t, tt.in, in, "in, from %v to %v", tt.before, tt.after)
		assert.Equal(t, tt.out, out, "out, from %v to %v", tt.before, tt.after)
	}
}

func TestReactTo(t *testing.T) {
	tests := []struct {
		err  error
		want reaction
	}{
		{nil, confirmed},
		{kerr.RebalanceInProgress, rejoin},
		{fmt.Errorf("syncing: %w", kerr.RebalanceInProgress), rejoin},
		{kerr.IllegalGeneration, rejoinWithoutShare},
		{kerr.FencedInstanceID, rejoinWithoutShare},
		{kerr.UnknownMemberID, rejoinAsNewMember},
		{kerr.NotCoordinator, retryLater},
		{kerr.GroupAuthorizationFailed, retryLater},
		{context.DeadlineExceeded, retryLater},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, reactTo(tt.err), "%v", tt.err)
	}
}
