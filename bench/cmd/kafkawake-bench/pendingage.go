package main

import "strings"

// The pending age's Go benchmarks: the estimate in receiver/kafkawakereceiver/internal/pendingage, the fetch method in receiver/kafkawakereceiver.
const (
	pendingAgeEstimateBenchmark = "BenchmarkPendingAgeEstimate"
	pendingAgeFetchBenchmark    = "BenchmarkPendingAgeFetch"
)

// writePendingAge reports what slimfaaskafka.pending_age costs: the memory
// of the estimate's tables and the requests the fetch method adds.
func (r *report) writePendingAge(w func(string, ...any)) {
	var estimate, fetch []goBenchmark
	for _, g := range r.gobench {
		switch {
		case strings.HasPrefix(g.name, pendingAgeEstimateBenchmark):
			estimate = append(estimate, g)
		case strings.HasPrefix(g.name, pendingAgeFetchBenchmark):
			fetch = append(fetch, g)
		}
	}
	if len(estimate) == 0 && len(fetch) == 0 {
		return
	}
	w("## 7. Pending age\n\n")
	if len(estimate) > 0 {
		w("**Estimate.** `%s` (receiver/kafkawakereceiver/internal/pendingage/ager_bench_test.go) runs the estimate without Kafka for 1,000 bindings on 1,000 topics of 12 partitions, every partition lagging and every table full (60 points). ", pendingAgeEstimateBenchmark)
		w("An op is one scrape's work: adding 12,000 high watermarks and dating every binding's oldest pending offset. History is the heap the 12,000 full tables hold, measured after GC; it is the bound whatever the traffic.\n\n")
		w("| GOMAXPROCS | Scrapes | ms/scrape | Allocs/scrape | History MiB |\n|---:|---:|---:|---:|---:|\n")
		for _, g := range estimate {
			w("| %d | %d | %s | %s | %s |\n", g.procs, g.n, f1(g.values["ns/op"]/1e6), thousands(g.values["allocs/op"]), f1(g.values["history_MiB"]))
		}
		w("\n")
	}
	if len(fetch) > 0 {
		w("**Fetch.** `%s` is `BenchmarkScrape` with `pending_age.method: fetch`: 200 bindings on 200 topics × 12 partitions on 3 brokers, every partition lagging, kfake in the same process. ", pendingAgeFetchBenchmark)
		w("Fetches are the requests the method adds to a scrape: one per leader broker with lagging partitions.\n\n")
		w("| GOMAXPROCS | Scrapes | ms/scrape | Requests/scrape | Fetches/scrape | Allocs/scrape (with kfake) | KiB/scrape (with kfake) |\n|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, g := range fetch {
			w("| %d | %d | %s | %s | %s | %s | %s |\n", g.procs, g.n, f1(g.values["ns/op"]/1e6), f1(g.values["requests/scrape"]), f1(g.values["fetches/scrape"]),
				thousands(g.values["allocs/op"]), thousands(g.values["B/op"]/1024))
		}
		w("\n")
	}
}
