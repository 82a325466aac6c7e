// Package examples holds deployment examples (docker-compose, Kubernetes,
// Grafana, the local `make run` configuration). This test keeps them honest:
// every collector configuration must load into the real component configs,
// every PromQL query (Grafana panels, SlimFaas/Scale triggers) may only
// name metrics the collector actually exports, and a function scaled to zero
// has exactly one starter (a waking collector or SlimFaas's ScaleFromZero).
// With the e2e tag, the built collector validates every configuration.
package examples

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	schema "github.com/kafkawake/kafkawake/internal/metadata"
	"github.com/kafkawake/kafkawake/processor/slimfaaswakeprocessor"
	"github.com/kafkawake/kafkawake/receiver/kafkawakereceiver"
)

// exampleEnv gives a value to every ${env:VAR} the examples may reference. A
// reference to a variable missing here (and without a ${env:VAR:-default})
// fails the test: document the variable in the example's README, then add
// it here.
var exampleEnv = map[string]string{
	"KAFKA_PASSWORD": "example-password",
}

// collectorImage identifies containers that run this distribution.
const collectorImage = "otelcol-kafkawake"

// ---------------------------------------------------------------------------
// Loading the examples

// yamlDoc is one YAML document of an example file.
type yamlDoc struct {
	name string // file[#document index]
	raw  map[string]any
}

// collectorConfig is one collector configuration found in the examples.
type collectorConfig struct {
	name string
	raw  map[string]any
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// parseYAMLDocs parses every document of a (possibly multi-document) YAML
// file with confmap's own YAML loader.
func parseYAMLDocs(t *testing.T, path string) []yamlDoc {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	parts := docSeparator.Split(string(data), -1)
	var docs []yamlDoc
	for i, part := range parts {
		name := path
		if len(parts) > 1 {
			name = fmt.Sprintf("%s#%d", path, i)
		}
		raw := parseYAMLMap(t, name, part)
		if raw != nil {
			docs = append(docs, yamlDoc{name: name, raw: raw})
		}
	}
	return docs
}

func parseYAMLMap(t *testing.T, name, text string) map[string]any {
	t.Helper()
	rtv, err := confmap.NewRetrievedFromYAML([]byte(text))
	require.NoError(t, err, "%s: invalid YAML", name)
	v, err := rtv.AsRaw()
	require.NoError(t, err, name)
	if v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	require.True(t, ok, "%s: top level is not a mapping", name)
	return m
}

// exampleYAMLDocs returns every YAML document under examples/.
func exampleYAMLDocs(t *testing.T) []yamlDoc {
	t.Helper()
	var docs []yamlDoc
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !(strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			return nil
		}
		docs = append(docs, parseYAMLDocs(t, path)...)
		return nil
	})
	require.NoError(t, err)
	return docs
}

// collectorConfigs finds collector configurations: plain files with a
// `receivers` section, and ConfigMap data entries holding one.
func collectorConfigs(t *testing.T) []collectorConfig {
	t.Helper()
	var out []collectorConfig
	for _, doc := range exampleYAMLDocs(t) {
		if _, ok := doc.raw["receivers"]; ok {
			out = append(out, collectorConfig{name: doc.name, raw: doc.raw})
			continue
		}
		if doc.raw["kind"] != "ConfigMap" {
			continue
		}
		data, _ := doc.raw["data"].(map[string]any)
		for key, v := range data {
			text, ok := v.(string)
			if !ok {
				continue
			}
			m := parseYAMLMap(t, doc.name+":"+key, text)
			if _, ok := m["receivers"]; ok {
				out = append(out, collectorConfig{name: configMapName(doc.raw) + ":" + key, raw: m})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func configMapName(raw map[string]any) string {
	md, _ := raw["metadata"].(map[string]any)
	name, _ := md["name"].(string)
	return "configmap/" + name
}

var envRef = regexp.MustCompile(`\$\{([^}]*)\}`)

// resolveEnv replaces ${env:VAR} and ${env:VAR:-default} in every string the
// way the collector's env provider would, with the values of exampleEnv.
// Other providers are not used by the examples and are reported.
func resolveEnv(t *testing.T, where string, v any) any {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = resolveEnv(t, where, e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = resolveEnv(t, where, e)
		}
		return out
	case string:
		return envRef.ReplaceAllStringFunc(x, func(ref string) string {
			inner := ref[2 : len(ref)-1]
			name, ok := strings.CutPrefix(inner, "env:")
			if !ok {
				t.Errorf("%s: %s: only ${env:...} references are expected in the examples", where, ref)
				return ref
			}
			name, def, hasDefault := strings.Cut(name, ":-")
			if val, ok := exampleEnv[name]; ok {
				return val
			}
			if hasDefault {
				return def
			}
			t.Errorf("%s: %s: environment variable %s is not known to this test (add it to exampleEnv once documented)", where, ref, name)
			return ref
		})
	default:
		return v
	}
}

// componentKeys returns the keys of section whose component type is typ
// ("kafkawake" matches "kafkawake" and "kafkawake/name").
func componentKeys(raw map[string]any, section, typ string) []string {
	m, _ := raw[section].(map[string]any)
	var keys []string
	for k := range m {
		if k == typ || strings.HasPrefix(k, typ+"/") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// ---------------------------------------------------------------------------
// Collector configurations

func TestCollectorConfigsLoadIntoComponentConfigs(t *testing.T) {
	configs := collectorConfigs(t)
	var names []string
	for _, c := range configs {
		names = append(names, c.name)
	}
	// Discovery must not silently miss an example.
	for _, want := range []string{
		filepath.Join("local", "config.yaml"),
		filepath.Join("docker-compose", "collector.yaml"),
		"configmap/otelcol-kafkawake:config.yaml",
		"configmap/fibonacci-kafka-listener-kafkawake:config.yaml",
	} {
		assert.Contains(t, names, want)
	}

	recvFactory := kafkawakereceiver.NewFactory()
	procFactory := slimfaaswakeprocessor.NewFactory()
	for _, c := range configs {
		t.Run(c.name, func(t *testing.T) {
			raw := resolveEnv(t, c.name, c.raw).(map[string]any)
			conf := confmap.NewFromStringMap(raw)

			recvKeys := componentKeys(raw, "receivers", recvFactory.Type().String())
			require.NotEmpty(t, recvKeys, "no kafkawake receiver")
			for _, key := range recvKeys {
				sub, err := conf.Sub("receivers::" + key)
				require.NoError(t, err)
				cfg := recvFactory.CreateDefaultConfig()
				require.NoError(t, sub.Unmarshal(cfg), "receivers::%s", key)
				assert.NoError(t, confmap.Validate(cfg), "receivers::%s", key)
			}
			// The processor is optional: a metrics-only sidecar has none.
			for _, key := range componentKeys(raw, "processors", procFactory.Type().String()) {
				sub, err := conf.Sub("processors::" + key)
				require.NoError(t, err)
				cfg := procFactory.CreateDefaultConfig()
				require.NoError(t, sub.Unmarshal(cfg), "processors::%s", key)
				assert.NoError(t, confmap.Validate(cfg), "processors::%s", key)
			}
			checkServiceReferences(t, raw)
		})
	}
}

// checkServiceReferences checks that every component a pipeline or the
// service names is defined, and that kafkawake feeds a pipeline.
func checkServiceReferences(t *testing.T, raw map[string]any) {
	t.Helper()
	service, _ := raw["service"].(map[string]any)
	require.NotNil(t, service, "no service section")
	defined := func(section, id string) bool {
		m, _ := raw[section].(map[string]any)
		_, ok := m[id]
		return ok
	}
	exts, _ := service["extensions"].([]any)
	for _, e := range exts {
		assert.True(t, defined("extensions", fmt.Sprint(e)), "service.extensions: %v is not defined", e)
	}
	pipelines, _ := service["pipelines"].(map[string]any)
	require.NotEmpty(t, pipelines, "no pipelines")
	usesReceiver := false
	for name, p := range pipelines {
		pm, _ := p.(map[string]any)
		for _, section := range []string{"receivers", "processors", "exporters"} {
			ids, _ := pm[section].([]any)
			for _, id := range ids {
				assert.True(t, defined(section, fmt.Sprint(id)), "pipeline %s: %s %v is not defined", name, section, id)
				if section == "receivers" && strings.HasPrefix(fmt.Sprint(id), "kafkawake") {
					usesReceiver = true
				}
			}
		}
	}
	assert.True(t, usesReceiver, "no pipeline uses the kafkawake receiver")
}

// exporterPort returns the port of the collector's prometheus exporter.
func exporterPort(t *testing.T, raw map[string]any) string {
	t.Helper()
	exporters, _ := raw["exporters"].(map[string]any)
	prom, _ := exporters["prometheus"].(map[string]any)
	endpoint, _ := prom["endpoint"].(string)
	_, port, err := net.SplitHostPort(endpoint)
	require.NoError(t, err, "prometheus exporter endpoint %q", endpoint)
	return port
}

// coordinationGroup is the kafkawake receiver's coordination group, "" when
// the collector observes every binding on its own.
func coordinationGroup(raw map[string]any) string {
	receivers, _ := raw["receivers"].(map[string]any)
	kw, _ := receivers["kafkawake"].(map[string]any)
	coordination, _ := kw["coordination"].(map[string]any)
	group, _ := coordination["group"].(string)
	return group
}

// checkSharedBindings checks what replicas sharing their bindings need: a
// coordination group, and an exporter that forgets the series of a binding
// that moved away within a few collection intervals.
func checkSharedBindings(t *testing.T, raw map[string]any) {
	t.Helper()
	assert.NotEmpty(t, coordinationGroup(raw), "replicas of a waking collector must share the bindings through receivers.kafkawake.coordination.group")
	exporters, _ := raw["exporters"].(map[string]any)
	prom, _ := exporters["prometheus"].(map[string]any)
	expiration, _ := prom["metric_expiration"].(string)
	receivers, _ := raw["receivers"].(map[string]any)
	kw, _ := receivers["kafkawake"].(map[string]any)
	interval, _ := kw["collection_interval"].(string)
	if interval == "" {
		interval = "2s"
	}
	e, err := time.ParseDuration(expiration)
	require.NoError(t, err, "the prometheus exporter needs a metric_expiration, so a replica stops serving a binding it lost")
	i, err := time.ParseDuration(interval)
	require.NoError(t, err)
	assert.LessOrEqual(t, e, 10*i, "metric_expiration %s is more than a few collection intervals (%s)", e, i)
}

// hasWakeProcessor says whether some pipeline runs the slimfaaswake processor.
func hasWakeProcessor(raw map[string]any) bool {
	service, _ := raw["service"].(map[string]any)
	pipelines, _ := service["pipelines"].(map[string]any)
	for _, p := range pipelines {
		if pipelineWakes(p) {
			return true
		}
	}
	return false
}

// pipelineWakes says whether a pipeline runs the slimfaaswake processor.
func pipelineWakes(pipeline any) bool {
	pm, _ := pipeline.(map[string]any)
	ids, _ := pm["processors"].([]any)
	for _, id := range ids {
		if strings.HasPrefix(fmt.Sprint(id), "slimfaaswake") {
			return true
		}
	}
	return false
}

// boundFunctions returns every function a kafkawake receiver of the config
// binds and feeds to a pipeline, and whether one of those pipelines runs the
// slimfaaswake processor, that is whether the collector wakes it.
func boundFunctions(raw map[string]any) map[string]bool {
	receivers, _ := raw["receivers"].(map[string]any)
	service, _ := raw["service"].(map[string]any)
	pipelines, _ := service["pipelines"].(map[string]any)
	woken := map[string]bool{}
	for _, p := range pipelines {
		pm, _ := p.(map[string]any)
		wakes := pipelineWakes(pm)
		ids, _ := pm["receivers"].([]any)
		for _, id := range ids {
			recv, _ := receivers[fmt.Sprint(id)].(map[string]any)
			bindings, _ := recv["bindings"].([]any)
			for _, b := range bindings {
				bm, _ := b.(map[string]any)
				if fn, ok := bm["function"].(string); ok {
					woken[fn] = woken[fn] || wakes
				}
			}
		}
	}
	return woken
}

// ---------------------------------------------------------------------------
// Metric names as the Prometheus exporter writes them

type exportedMetric struct {
	otelName  string
	promName  string
	enabled   bool
	processor bool // emitted by the slimfaaswake processor (carries `reason`)
}

// exportedMetrics derives the Prometheus names from metadata.yaml with the
// exporter's default translation (UnderscoreEscapingWithSuffixes): dots become
// underscores, unit `s` adds `_seconds`, `{...}` annotation units add
// nothing, monotonic sums add `_total`.
func exportedMetrics(t *testing.T) map[string]exportedMetric {
	t.Helper()
	conf, err := confmaptest.LoadConf(filepath.Join("..", "metadata.yaml"))
	require.NoError(t, err)
	metrics, ok := conf.ToStringMap()["metrics"].(map[string]any)
	require.True(t, ok, "metadata.yaml has no metrics")

	out := map[string]exportedMetric{}
	for name, v := range metrics {
		m := v.(map[string]any)
		prom := strings.ReplaceAll(name, ".", "_")
		switch unit, _ := m["unit"].(string); {
		case unit == "s":
			prom += "_seconds"
		case strings.HasPrefix(unit, "{") && strings.HasSuffix(unit, "}"):
		default:
			t.Fatalf("metric %s: unit %q: teach this test how the Prometheus exporter translates it", name, unit)
		}
		if sum, ok := m["sum"].(map[string]any); ok && sum["monotonic"] == true {
			prom += "_total"
		}
		enabled, _ := m["enabled"].(bool)
		attrs, _ := m["attributes"].([]any)
		out[prom] = exportedMetric{
			otelName:  name,
			promName:  prom,
			enabled:   enabled,
			processor: slices.Contains(attrs, any("reason")),
		}
	}
	return out
}

func TestExportedMetricNames(t *testing.T) {
	metrics := exportedMetrics(t)

	// The generated schema package and metadata.yaml agree.
	var generated []string
	v := reflect.ValueOf(schema.MetricsInfo)
	for i := range v.NumField() {
		generated = append(generated, v.Field(i).FieldByName("Name").String())
	}
	var fromYAML []string
	for _, m := range metrics {
		fromYAML = append(fromYAML, m.otelName)
	}
	assert.ElementsMatch(t, generated, fromYAML)

	// The Prometheus names of README.md#metrics, which SlimFaas/Scale queries
	// and dashboards rely on, come out of the mapping unchanged.
	for _, name := range []string{
		"slimfaaskafka_pending_messages",
		"slimfaaskafka_consumed_messages_total",
		"slimfaaskafka_last_activity_timestamp_seconds",
		"slimfaaskafka_pending_age_seconds",
		"slimfaaskafka_wakeups_total",
		"slimfaaskafka_wake_failures_total",
	} {
		m, ok := metrics[name]
		if assert.True(t, ok, "%s is not exported", name) {
			assert.True(t, m.enabled, "%s is disabled by default", name)
		}
	}
}

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

// ---------------------------------------------------------------------------
// Grafana

var labelValues = regexp.MustCompile(`^\s*label_values\(\s*(.+?)\s*,\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$`)

func TestGrafanaDashboard(t *testing.T) {
	known := exportedMetrics(t)
	data, err := os.ReadFile(filepath.Join("grafana", "kafkawake-dashboard.json"))
	require.NoError(t, err)
	var dash struct {
		SchemaVersion int `json:"schemaVersion"`
		Templating    struct {
			List []struct {
				Name  string          `json:"name"`
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
		Panels []json.RawMessage `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(data, &dash))
	assert.GreaterOrEqual(t, dash.SchemaVersion, 36)

	vars := map[string]bool{}
	for _, v := range dash.Templating.List {
		vars[v.Name] = true
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			var s string
			require.NoError(t, json.Unmarshal(v.Query, &s))
			q.Query = s
		}
		m := labelValues.FindStringSubmatch(q.Query)
		if assert.NotNil(t, m, "variable %s: expected label_values(metric, label), got %q", v.Name, q.Query) {
			checkMetrics(t, "variable "+v.Name, m[1], known, nil)
		}
	}
	assert.True(t, vars["DS_PROMETHEUS"], "no DS_PROMETHEUS datasource variable")
	assert.True(t, vars["function"], "no function variable")

	seen := map[string]bool{}
	var walk func(raw json.RawMessage)
	walk = func(raw json.RawMessage) {
		var p struct {
			Title      string                `json:"title"`
			Type       string                `json:"type"`
			Datasource *struct{ UID string } `json:"datasource"`
			Targets    []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
			Panels []json.RawMessage `json:"panels"`
		}
		require.NoError(t, json.Unmarshal(raw, &p))
		for _, child := range p.Panels {
			walk(child)
		}
		if p.Type == "row" {
			return
		}
		if assert.NotNil(t, p.Datasource, "panel %q has no datasource", p.Title) {
			assert.Equal(t, "${DS_PROMETHEUS}", p.Datasource.UID, "panel %q", p.Title)
		}
		assert.NotEmpty(t, p.Targets, "panel %q has no query", p.Title)
		for _, target := range p.Targets {
			checkMetrics(t, "panel "+p.Title, target.Expr, known, seen)
		}
	}
	for _, raw := range dash.Panels {
		walk(raw)
	}
	for name, m := range known {
		if m.enabled {
			assert.True(t, seen[name], "no panel shows %s", name)
		}
	}
}

// ---------------------------------------------------------------------------
// Kubernetes and docker-compose manifests

// slimFaasFunctions are the functions SlimFaas's PromQL mini-evaluator knows.
var slimFaasFunctions = map[string]bool{
	"sum": true, "min": true, "max": true, "avg": true, "rate": true, "max_over_time": true, "histogram_quantile": true,
}

var (
	functionMatcher = regexp.MustCompile(`\bfunction\s*(=~?)\s*"([^"]*)"`)
	rangeDuration   = regexp.MustCompile(`\[([^\]]*)\]`)
	slimFaasRange   = regexp.MustCompile(`^[0-9]+[smh]$`)
)

type scaleConfig struct {
	ScaleFromZero *bool `json:"ScaleFromZero"`
	Sources       []struct {
		Name string `json:"Name"`
		URL  string `json:"Url"`
	} `json:"Sources"`
	Triggers []struct {
		Source     string  `json:"Source"`
		MetricType string  `json:"MetricType"`
		MetricName string  `json:"MetricName"`
		Query      string  `json:"Query"`
		Threshold  float64 `json:"Threshold"`
	} `json:"Triggers"`
}

type podTemplate struct {
	Metadata struct {
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		Containers []struct {
			Name  string `json:"name"`
			Image string `json:"image"`
			Ports []struct {
				Name          string `json:"name"`
				ContainerPort int    `json:"containerPort"`
			} `json:"ports"`
			VolumeMounts []struct {
				Name string `json:"name"`
			} `json:"volumeMounts"`
		} `json:"containers"`
		Volumes []struct {
			Name      string `json:"name"`
			ConfigMap *struct {
				Name string `json:"name"`
			} `json:"configMap"`
		} `json:"volumes"`
	} `json:"spec"`
}

type deployment struct {
	where    string
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Replicas *int `json:"replicas"`
		Strategy struct {
			Type string `json:"type"`
		} `json:"strategy"`
		Template podTemplate `json:"template"`
	} `json:"spec"`
}

// kubernetesObjects returns the Deployments and the collector configs (by
// ConfigMap name) of examples/kubernetes.
func kubernetesObjects(t *testing.T) ([]deployment, map[string]map[string]any) {
	t.Helper()
	var deps []deployment
	configs := map[string]map[string]any{}
	for _, c := range collectorConfigs(t) {
		if name, ok := strings.CutPrefix(c.name, "configmap/"); ok {
			configs[strings.TrimSuffix(name, ":config.yaml")] = c.raw
		}
	}
	matches, err := filepath.Glob(filepath.Join("kubernetes", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, matches)
	for _, path := range matches {
		for _, doc := range parseYAMLDocs(t, path) {
			if doc.raw["kind"] != "Deployment" {
				continue
			}
			data, err := json.Marshal(doc.raw)
			require.NoError(t, err)
			d := deployment{where: doc.name}
			require.NoError(t, json.Unmarshal(data, &d), doc.name)
			deps = append(deps, d)
		}
	}
	return deps, configs
}

func TestKubernetesManifests(t *testing.T) {
	known := exportedMetrics(t)
	deps, configs := kubernetesObjects(t)
	// The collector config behind each Deployment name, which is also the
	// name of its Service, hence the host of a SlimFaas source URL.
	collectorOf := map[string]map[string]any{}
	for _, d := range deps {
		for _, c := range d.Spec.Template.Spec.Containers {
			if strings.Contains(c.Image, collectorImage) {
				collectorOf[d.Metadata.Name] = mountedConfig(t, d.Spec.Template, c.VolumeMounts, configs)
			}
		}
	}
	scaled, startedBySlimFaas := 0, 0
	for _, d := range deps {
		t.Run(d.where+"/"+d.Metadata.Name, func(t *testing.T) {
			ann := d.Spec.Template.Metadata.Annotations
			// Collector containers: their config exists and the scrape port
			// is the exporter's port.
			var sidecarConfig map[string]any
			for _, c := range d.Spec.Template.Spec.Containers {
				if !strings.Contains(c.Image, collectorImage) {
					continue
				}
				cfg := mountedConfig(t, d.Spec.Template, c.VolumeMounts, configs)
				require.NotNil(t, cfg, "container %s: no collector ConfigMap mounted", c.Name)
				port := exporterPort(t, cfg)
				assert.Equal(t, port, ann["prometheus.io/port"], "prometheus.io/port must be the exporter's port")
				assert.Contains(t, containerPorts(c.Ports), port, "container %s does not declare the exporter port", c.Name)
				if hasWakeProcessor(cfg) {
					require.NotNil(t, d.Spec.Replicas)
					if *d.Spec.Replicas > 1 || d.Spec.Strategy.Type != "Recreate" {
						// Several waking replicas, or two during a rollout,
						// must share the bindings instead of waking twice.
						checkSharedBindings(t, cfg)
						assert.True(t, hasDisruptionBudget(t, d.Spec.Template.Metadata.Labels),
							"a replicated collector needs a PodDisruptionBudget keeping one replica")
					}
				}
				if len(d.Spec.Template.Spec.Containers) > 1 {
					sidecarConfig = cfg
				}
			}

			text, ok := ann["SlimFaas/Scale"]
			if !ok {
				return
			}
			scaled++
			assert.Equal(t, "true", ann["SlimFaas/Function"])
			var sc scaleConfig
			require.NoError(t, json.Unmarshal([]byte(text), &sc), "SlimFaas/Scale is not valid JSON")
			require.NotEmpty(t, sc.Triggers)
			sources := map[string]bool{}
			for _, s := range sc.Sources {
				sources[s.Name] = true
				assert.Contains(t, s.URL, ":9464/metrics", "source %s must point at the collector's exporter", s.Name)
			}
			checkZeroToOne(t, d.Metadata.Name, ann, sc, collectorOf, known)
			if sc.ScaleFromZero != nil && *sc.ScaleFromZero {
				startedBySlimFaas++
			}
			for _, tr := range sc.Triggers {
				where := "trigger " + tr.MetricName
				checkMetrics(t, where, tr.Query, known, nil)
				checkSlimFaasQuery(t, where, tr.Query, d.Metadata.Name)
				if tr.Source != "" {
					assert.True(t, sources[tr.Source], "%s: unknown source %q", where, tr.Source)
				}
				if sidecarConfig != nil && tr.Source == "" {
					// The sidecar's /metrics only has what its pipelines emit,
					// and every replica exports the same values.
					names, functions, _ := promqlScan(tr.Query)
					for _, n := range names {
						if known[n].processor {
							assert.True(t, hasWakeProcessor(sidecarConfig), "%s: %s needs the slimfaaswake processor in the sidecar", where, n)
						}
					}
					assert.NotContains(t, functions, "sum", "%s: every sidecar exports the same series; reduce with max, not sum", where)
				}
			}
		})
	}
	assert.GreaterOrEqual(t, scaled, 3, "expected the Sources, the sidecar and the scale-from-zero function examples")
	assert.GreaterOrEqual(t, startedBySlimFaas, 1, "expected a function that SlimFaas starts from zero")
}

// checkZeroToOne checks that a function scaled to zero has exactly one
// starter: with ScaleFromZero, a SlimFaas source trigger on a collector that
// exports its backlog but never wakes it; without, a collector that wakes it.
func checkZeroToOne(t *testing.T, function string, ann map[string]string, sc scaleConfig,
	collectorOf map[string]map[string]any, known map[string]exportedMetric,
) {
	t.Helper()
	if sc.ScaleFromZero == nil || !*sc.ScaleFromZero {
		if ann["SlimFaas/ReplicasMin"] != "0" {
			return
		}
		woken := false
		for _, cfg := range collectorOf {
			woken = woken || boundFunctions(cfg)[function]
		}
		assert.True(t, woken, "%s scales to zero without ScaleFromZero: a collector must wake it", function)
		return
	}
	assert.Equal(t, "0", ann["SlimFaas/ReplicasMin"], "ScaleFromZero only matters for a function that scales to zero")
	for _, cfg := range collectorOf {
		assert.False(t, boundFunctions(cfg)[function], "%s: ScaleFromZero and a waking collector are two starters", function)
	}
	for _, s := range sc.Sources {
		u, err := url.Parse(s.URL)
		require.NoError(t, err, "source %s", s.Name)
		service, _, _ := strings.Cut(u.Hostname(), ".")
		cfg := collectorOf[service]
		require.NotNil(t, cfg, "source %s: %s is not a collector of these examples", s.Name, s.URL)
		_, bound := boundFunctions(cfg)[function]
		assert.True(t, bound, "source %s: the collector behind it does not bind %s", s.Name, function)
	}
	fromSource := 0
	for _, tr := range sc.Triggers {
		if tr.Source == "" {
			continue
		}
		fromSource++
		names, _, err := promqlScan(tr.Query)
		require.NoError(t, err)
		for _, n := range names {
			// A collector that does not wake the function has no wake counters.
			assert.False(t, known[n].processor, "trigger %s: %s is not exported for a function the collector does not wake", tr.MetricName, n)
		}
	}
	assert.Positive(t, fromSource, "ScaleFromZero needs a trigger on an external source")
}

// hasDisruptionBudget says whether a PodDisruptionBudget of
// examples/kubernetes with minAvailable ≥ 1 selects pods with these labels.
func hasDisruptionBudget(t *testing.T, labels map[string]string) bool {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join("kubernetes", "*.yaml"))
	require.NoError(t, err)
	for _, path := range matches {
		for _, doc := range parseYAMLDocs(t, path) {
			if doc.raw["kind"] != "PodDisruptionBudget" {
				continue
			}
			data, err := json.Marshal(doc.raw)
			require.NoError(t, err)
			var pdb struct {
				Spec struct {
					MinAvailable int `json:"minAvailable"`
					Selector     struct {
						MatchLabels map[string]string `json:"matchLabels"`
					} `json:"selector"`
				} `json:"spec"`
			}
			require.NoError(t, json.Unmarshal(data, &pdb), doc.name)
			selects := len(pdb.Spec.Selector.MatchLabels) > 0
			for k, v := range pdb.Spec.Selector.MatchLabels {
				selects = selects && labels[k] == v
			}
			if selects && pdb.Spec.MinAvailable >= 1 {
				return true
			}
		}
	}
	return false
}

func containerPorts(ports []struct {
	Name          string `json:"name"`
	ContainerPort int    `json:"containerPort"`
},
) []string {
	var out []string
	for _, p := range ports {
		out = append(out, fmt.Sprint(p.ContainerPort))
	}
	return out
}

func mountedConfig(t *testing.T, pod podTemplate, mounts []struct {
	Name string `json:"name"`
}, configs map[string]map[string]any,
) map[string]any {
	t.Helper()
	for _, m := range mounts {
		for _, v := range pod.Spec.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil {
				if cfg, ok := configs[v.ConfigMap.Name]; ok {
					return cfg
				}
			}
		}
	}
	return nil
}

// checkSlimFaasQuery checks what SlimFaas's PromQL mini-evaluator accepts and
// that the query is scoped to the function by its literal name.
func checkSlimFaasQuery(t *testing.T, where, query, function string) {
	t.Helper()
	_, functions, err := promqlScan(query)
	require.NoError(t, err)
	for _, f := range functions {
		assert.True(t, slimFaasFunctions[f], "%s: SlimFaas does not evaluate %s()", where, f)
	}
	assert.NotContains(t, query, "!=", "%s: SlimFaas only supports = and =~ matchers", where)
	assert.NotContains(t, query, "!~", "%s: SlimFaas only supports = and =~ matchers", where)
	assert.NotContains(t, query, "${", "%s: SlimFaas does not substitute placeholders", where)
	for _, m := range rangeDuration.FindAllStringSubmatch(query, -1) {
		assert.Regexp(t, slimFaasRange, m[1], "%s: SlimFaas durations are an integer and s, m or h", where)
	}
	matchers := functionMatcher.FindAllStringSubmatch(query, -1)
	assert.NotEmpty(t, matchers, "%s: the query must select function=%q", where, function)
	for _, m := range matchers {
		assert.Equal(t, []string{"=", function}, m[1:], "%s: the function matcher must be the Deployment name", where)
	}
}

func TestDockerCompose(t *testing.T) {
	docs := parseYAMLDocs(t, filepath.Join("docker-compose", "docker-compose.yml"))
	require.Len(t, docs, 1)
	services, _ := docs[0].raw["services"].(map[string]any)
	require.NotNil(t, services)

	collector := parseYAMLDocs(t, filepath.Join("docker-compose", "collector.yaml"))[0].raw
	port := exporterPort(t, collector)

	// Prometheus scrapes the exporter of every collector replica: the
	// compose name resolves to all of them.
	prom := parseYAMLDocs(t, filepath.Join("docker-compose", "prometheus.yml"))[0].raw
	data, err := json.Marshal(prom)
	require.NoError(t, err)
	assert.Contains(t, string(data), `"dns_sd_configs":[{"names":["otelcol-kafkawake"],"port":`+port+`,"type":"A"}]`)
	svc, _ := services["otelcol-kafkawake"].(map[string]any)
	deploy, _ := svc["deploy"].(map[string]any)
	if replicas, _ := deploy["replicas"].(int); replicas > 1 {
		checkSharedBindings(t, collector)
	}
	assert.Equal(t, 2, deploy["replicas"], "the example runs two replicas")

	// Every bound function is a container whose `app` label carries that name:
	// under SlimFaas's Docker orchestrator the label is the function name.
	recv, _ := collector["receivers"].(map[string]any)
	kw, _ := recv["kafkawake"].(map[string]any)
	bindings, _ := kw["bindings"].([]any)
	require.NotEmpty(t, bindings)
	for _, b := range bindings {
		fn := fmt.Sprint(b.(map[string]any)["function"])
		found := false
		for _, s := range services {
			labels, _ := s.(map[string]any)["labels"].(map[string]any)
			if labels["app"] == fn && labels["SlimFaas/Function"] == "true" {
				found = true
			}
		}
		assert.True(t, found, "binding function %q is no SlimFaas function's app label", fn)
	}

	// Kafka advertises its compose name, not localhost.
	kafka, _ := services["kafka"].(map[string]any)
	env, _ := kafka["environment"].(map[string]any)
	adv := fmt.Sprint(env["KAFKA_ADVERTISED_LISTENERS"])
	assert.Contains(t, adv, "kafka:9092")
	assert.NotContains(t, adv, "localhost")
	brokers, _ := kw["brokers"].([]any)
	assert.Equal(t, []any{"kafka:9092"}, brokers)
}
