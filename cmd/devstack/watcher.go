package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/kafkawake/kafkawake/internal/exposition"
)

// watchCollector polls the collector's Prometheus endpoint and prints the
// function's kafkawake metrics whenever they change, so the demo shows the
// collector's side of the loop next to the stack's.
func watchCollector(ctx context.Context, metricsURL, function string, log *console) {
	client := &http.Client{Timeout: 2 * time.Second}
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	last := ""
	for {
		summary, err := collectorSummary(ctx, client, metricsURL, function)
		if err == nil && summary != "" && summary != last {
			log.printf("collector", "%s", summary)
			last = summary
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// collectorSummary reads one exposition and sums the function's series by
// metric name.
func collectorSummary(ctx context.Context, client *http.Client, metricsURL, function string) (string, error) {
	samples, err := exposition.Scrape(ctx, client, metricsURL)
	if err != nil {
		return "", err
	}
	ofFunction := map[string]string{"function": function}
	total := func(name string) float64 {
		sum, _ := samples.Sum(name, ofFunction)
		return sum
	}
	pending, seen := samples.Sum("slimfaaskafka_pending_messages", ofFunction)
	if !seen {
		return "", nil
	}
	activity := "none yet"
	if ts := total("slimfaaskafka_last_activity_timestamp_seconds"); ts > 0 {
		activity = time.Unix(int64(ts), 0).Format("15:04:05")
	}
	return fmt.Sprintf("pending=%.0f consumed=%.0f wakeups=%.0f wake_failures=%.0f last_activity=%s",
		pending, total("slimfaaskafka_consumed_messages_total"), total("slimfaaskafka_wakeups_total"),
		total("slimfaaskafka_wake_failures_total"), activity), nil
}
