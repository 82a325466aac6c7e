// Package examples holds deployment examples (docker-compose, Kubernetes,
// Grafana, the local `make run` configuration). This test keeps them honest:
// every collector configuration must load into the real component configs,
// every PromQL query (Grafana panels, SlimFaas/Scale triggers) may only
// name metrics the collector actually exports, and a function scaled to zero
// has exactly one starter (a waking collector or SlimFaas's ScaleFromZero).
// With the e2e tag, the built collector validates every configuration.
package examples

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
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
