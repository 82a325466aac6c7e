//go:build interop

package kafkawakereceiver

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kafkawake/kafkawake/internal/kafkatest"
)

// TestPendingMatchesKcatConsumerGroup has an independent client, kcat
// (librdkafka), produce and consume with a real consumer group, and checks
// the receiver's pending against offsets the test reads itself.
func TestPendingMatchesKcatConsumerGroup(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	require.NoError(t, err, "kcat is required for interop tests: run `make deps` (Debian package kcat)")

	c := kafkatest.New(t, kfake.SeedTopics(6, "orders"))
	brokers := strings.Join(c.Kfake.ListenAddrs(), ",")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var messages bytes.Buffer
	for i := range 1000 {
		fmt.Fprintf(&messages, "key-%d:value-%d\n", i, i)
	}
	input := filepath.Join(t.TempDir(), "messages.txt")
	require.NoError(t, os.WriteFile(input, messages.Bytes(), 0o600))
	out, err := exec.CommandContext(ctx, kcat, "-P", "-b", brokers, "-t", "orders", "-K", ":", "-l", input).CombinedOutput()
	require.NoError(t, err, "kcat produce: %s", out)

	// A balanced consumer group reads 400 messages and commits on close.
	out, err = exec.CommandContext(ctx, kcat, "-b", brokers, "-G", "kcat-group", "orders",
		"-c", "400", "-q", "-X", "auto.offset.reset=earliest").CombinedOutput()
	require.NoError(t, err, "kcat consume: %s", out)

	want := pendingFromKadm(t, c, "orders", "kcat-group")
	s, _ := startScraper(t, c.Kfake.ListenAddrs(), OffsetResetEarliest,
		BindingConfig{Topic: "orders", ConsumerGroup: "kcat-group", Function: "f"})
	got := scrapeOK(t, c, s).intValue(t, pendingName, "f")
	assert.Equal(t, want, got)
	assert.Equal(t, int64(600), got, "1000 produced, 400 consumed")
}

// pendingFromKadm computes pending from raw offsets, by the rules of
// docs/rules.md#pending-messages with offset_reset earliest, independently of the receiver's code.
func pendingFromKadm(t *testing.T, c *kafkatest.Cluster, topic, group string) int64 {
	t.Helper()
	ends, err := c.Adm.ListEndOffsets(c.Ctx(), topic)
	require.NoError(t, err)
	starts, err := c.Adm.ListStartOffsets(c.Ctx(), topic)
	require.NoError(t, err)
	commits, err := c.Adm.FetchOffsets(c.Ctx(), group)
	require.NoError(t, err)
	var total int64
	for p, end := range ends[topic] {
		start := starts[topic][p].Offset
		from := start
		if commit, ok := commits.Lookup(topic, p); ok && commit.At >= 0 {
			from = max(commit.At, start)
		}
		total += max(0, end.Offset-from)
	}
	return total
}
