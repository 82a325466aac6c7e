package examples

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ---------------------------------------------------------------------------
// PromQL scanning

var (
	promAggregations = map[string]bool{
		"sum": true, "min": true, "max": true, "avg": true, "count": true, "group": true,
		"stddev": true, "stdvar": true, "topk": true, "bottomk": true, "quantile": true, "count_values": true,
	}
	promLabelLists = map[string]bool{
		"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	}
	promKeywords = map[string]bool{"bool": true, "and": true, "or": true, "unless": true, "offset": true, "atan2": true}
)

// promqlScan returns the metric names and the functions an expression uses.
func promqlScan(expr string) (metrics, functions []string, err error) {
	isIdentStart := func(c byte) bool { return c == '_' || c == ':' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
	isIdent := func(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }
	skipString := func(i int) (int, error) {
		quote := expr[i]
		for j := i + 1; j < len(expr); j++ {
			switch expr[j] {
			case '\\':
				j++
			case quote:
				return j + 1, nil
			}
		}
		return 0, fmt.Errorf("unterminated string in %q", expr)
	}
	skipUntil := func(i int, closer byte) (int, error) {
		for j := i + 1; j < len(expr); {
			switch c := expr[j]; {
			case c == '"' || c == '\'' || c == '`':
				next, err := skipString(j)
				if err != nil {
					return 0, err
				}
				j = next
			case c == closer:
				return j + 1, nil
			default:
				j++
			}
		}
		return 0, fmt.Errorf("missing %q in %q", closer, expr)
	}
	skipSpaces := func(i int) int {
		for i < len(expr) && (expr[i] == ' ' || expr[i] == '\t' || expr[i] == '\n') {
			i++
		}
		return i
	}

	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			if i, err = skipString(i); err != nil {
				return nil, nil, err
			}
		case c == '{':
			if i, err = skipUntil(i, '}'); err != nil {
				return nil, nil, err
			}
		case c == '[':
			if i, err = skipUntil(i, ']'); err != nil {
				return nil, nil, err
			}
		case c >= '0' && c <= '9' || c == '.':
			for i < len(expr) && (isIdent(expr[i]) || expr[i] == '.') {
				i++
			}
		case c == '$': // a Grafana variable outside a string
			i++
			for i < len(expr) && isIdent(expr[i]) {
				i++
			}
		case isIdentStart(c):
			start := i
			for i < len(expr) && isIdent(expr[i]) {
				i++
			}
			ident := expr[start:i]
			next := skipSpaces(i)
			switch {
			case promLabelLists[ident]:
				if next < len(expr) && expr[next] == '(' {
					if i, err = skipUntil(next, ')'); err != nil {
						return nil, nil, err
					}
				}
			case promKeywords[ident]:
			case promAggregations[ident] || (next < len(expr) && expr[next] == '('):
				functions = append(functions, ident)
			default:
				metrics = append(metrics, ident)
			}
		default:
			i++
		}
	}
	return metrics, functions, nil
}

func TestPromqlScan(t *testing.T) {
	for expr, want := range map[string][]string{
		`sum by (function, reason) (increase(slimfaaskafka_wakeups_total{function=~"$function"}[5m]))`: {"slimfaaskafka_wakeups_total"},
		`time() - slimfaaskafka_last_activity_timestamp_seconds{function="a,b}"}`:                      {"slimfaaskafka_last_activity_timestamp_seconds"},
		`max_over_time(x{a="1"}[30s]) / on (function) group_left y offset 5m`:                          {"x", "y"},
		`rate(c[$__rate_interval]) * 2`: {"c"},
	} {
		got, _, err := promqlScan(expr)
		require.NoError(t, err)
		assert.Equal(t, want, got, expr)
	}
}

// checkMetrics reports metric names in expr that the collector does not export.
func checkMetrics(t *testing.T, where, expr string, known map[string]exportedMetric, seen map[string]bool) {
	t.Helper()
	names, _, err := promqlScan(expr)
	if !assert.NoError(t, err, where) {
		return
	}
	assert.NotEmpty(t, names, "%s: %q names no metric", where, expr)
	for _, n := range names {
		if _, ok := known[n]; !assert.True(t, ok, "%s: %q uses %s, which the collector does not export", where, expr, n) {
			continue
		}
		if seen != nil {
			seen[n] = true
		}
	}
}
