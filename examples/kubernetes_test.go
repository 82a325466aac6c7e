package examples

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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

// TestKEDAPrometheusTriggersNameExportedMetrics checks the queries of the
// ScaledObjects that scale through a Prometheus server.
func TestKEDAPrometheusTriggersNameExportedMetrics(t *testing.T) {
	known := exportedMetrics(t)
	var queries int
	for _, doc := range exampleYAMLDocs(t) {
		if doc.raw["kind"] != "ScaledObject" {
			continue
		}
		spec, _ := doc.raw["spec"].(map[string]any)
		triggers, _ := spec["triggers"].([]any)
		for _, tr := range triggers {
			trigger, _ := tr.(map[string]any)
			if trigger["type"] != "prometheus" {
				continue
			}
			meta, _ := trigger["metadata"].(map[string]any)
			query, _ := meta["query"].(string)
			checkMetrics(t, doc.name, query, known, nil)
			queries++
		}
	}
	assert.Positive(t, queries, "no ScaledObject with a prometheus trigger")
}

// TestAlertRulesNameExportedMetrics checks the example alerts' queries.
func TestAlertRulesNameExportedMetrics(t *testing.T) {
	known := exportedMetrics(t)
	var rules int
	for _, doc := range exampleYAMLDocs(t) {
		if doc.raw["kind"] != "PrometheusRule" {
			continue
		}
		spec, _ := doc.raw["spec"].(map[string]any)
		groups, _ := spec["groups"].([]any)
		for _, g := range groups {
			group, _ := g.(map[string]any)
			list, _ := group["rules"].([]any)
			for _, r := range list {
				rule, _ := r.(map[string]any)
				expr, _ := rule["expr"].(string)
				checkMetrics(t, fmt.Sprintf("%s: alert %v", doc.name, rule["alert"]), expr, known, nil)
				rules++
			}
		}
	}
	assert.GreaterOrEqual(t, rules, 2, "the waiting and lost-messages alerts")
}
