package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
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
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL, http.NoBody)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()

	values := map[string]float64{}
	label := `function="` + function + `"`
	scanner := bufio.NewScanner(resp.Body)
	for scanner.Scan() {
		line := scanner.Text()
		if !strings.HasPrefix(line, "slimfaaskafka_") || !strings.Contains(line, label) {
			continue
		}
		name, _, _ := strings.Cut(line, "{")
		value, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			continue
		}
		values[name] += value
	}
	if err := scanner.Err(); err != nil {
		return "", err
	}
	pending, seen := values["slimfaaskafka_pending_messages"]
	if !seen {
		return "", nil
	}
	activity := "none yet"
	if ts := values["slimfaaskafka_last_activity_timestamp_seconds"]; ts > 0 {
		activity = time.Unix(int64(ts), 0).Format("15:04:05")
	}
	return fmt.Sprintf("pending=%.0f consumed=%.0f wakeups=%.0f wake_failures=%.0f last_activity=%s",
		pending, values["slimfaaskafka_consumed_messages_total"], values["slimfaaskafka_wakeups_total"],
		values["slimfaaskafka_wake_failures_total"], activity), nil
}
