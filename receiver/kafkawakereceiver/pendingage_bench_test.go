package kafkawakereceiver

import (
	"testing"
)

// BenchmarkPendingAgeFetch is BenchmarkScrape with pending_age.method fetch:
// 200 bindings on 200 topics × 12 partitions on 3 brokers, every partition
// lagging. fetches/scrape is the Fetch requests a scrape adds; kfake runs in
// the same process, so its allocations count too.
func BenchmarkPendingAgeFetch(b *testing.B) {
	counts := benchmarkScrape(b, func(cfg *Config) { cfg.PendingAge.Method = PendingAgeFetch })
	b.ReportMetric(float64(counts["Fetch"])/float64(b.N), "fetches/scrape")
}
