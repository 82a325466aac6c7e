package examples

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
