package kafkaread

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafkawake/kafkawake/internal/kafkatest"
)

// A share group's members come from ShareGroupDescribe: a real franz-go
// share consumer joins, then leaves.
func TestShareGroupMembersComeFromShareGroupDescribe(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(1, "queue"))
	c.Produce("queue", 0, 3)
	r := NewReader(c.Client, ReaderConfig{})
	members := func() GroupMembers {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return r.Members(ctx, map[string]GroupKind{"workers": KindShare})["workers"]
	}
	assert.Equal(t, GroupMembers{Kind: KindShare}, members(), "a share group that never had a member has none")

	worker, err := kgo.NewClient(append(append([]kgo.Opt{}, c.ClientOpts...), kgo.ShareGroup("workers"), kgo.ConsumeTopics("queue"))...)
	require.NoError(t, err)
	// The share-partition starts at the end when the first member joins, so
	// the poll returns nothing: it only has to join.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	worker.PollFetches(ctx)
	cancel()
	require.Eventually(t, func() bool { return members().Members == 1 }, 20*time.Second, 20*time.Millisecond)
	assert.Equal(t, KindShare, members().Kind)

	worker.Close()
	require.Eventually(t, func() bool { return members().Members == 0 }, 20*time.Second, 20*time.Millisecond, "the member left")
	assert.NoError(t, members().Err)
}
