package main

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/kafkawake/kafkawake/internal/slimfaasname"
)

// SlimFaasKafka's defaults, from its code, except the wake path: the
// appsettings.json shipped in its image overrides the code's default with
// the only route SlimFaas serves, which is also kafkawake's default.
const (
	defaultBootstrapServers     = "kafka:9092"
	defaultClientID             = "slimkafka-monitor"
	defaultCheckIntervalSeconds = 5
	defaultKafkaTimeoutSeconds  = 5
	defaultBaseURL              = "http://slimfaas:5000"
	defaultWakePath             = "/wake-function/{functionName}"
	defaultHTTPTimeoutSeconds   = 10
)

// functionNamePlaceholder is the token both services replace with the function name.
const functionNamePlaceholder = "{functionName}"

// Sections of SlimFaasKafka's configuration, lower-cased: .NET matches
// configuration keys case-insensitively.
const (
	sectionKafka    = "kafka"
	sectionSlimFaas = "slimfaas"
	sectionBindings = "slimfaaskafka"
	// sectionBindingsAlias is the prefix SlimFaasKafka's docs use by mistake.
	sectionBindingsAlias = "slimkafka"
)

// Setting names, lower-cased, as they follow the section.
const (
	fieldBootstrapServers      = "bootstrapservers"
	fieldClientID              = "clientid"
	fieldCheckIntervalSeconds  = "checkintervalseconds"
	fieldKafkaTimeoutSeconds   = "kafkatimeoutseconds"
	fieldAllowAutoCreateTopics = "allowautocreatetopics"
	fieldBaseURL               = "baseurl"
	fieldWakeUpPathTemplate    = "wakeuppathtemplate"
	fieldHTTPTimeoutSeconds    = "httptimeoutseconds"
	fieldTopic                 = "topic"
	fieldConsumerGroupID       = "consumergroupid"
	fieldFunctionName          = "functionname"
)

var knownFields = map[string][]string{
	sectionKafka:    {fieldBootstrapServers, fieldClientID, fieldCheckIntervalSeconds, fieldKafkaTimeoutSeconds, fieldAllowAutoCreateTopics},
	sectionSlimFaas: {fieldBaseURL, fieldWakeUpPathTemplate, fieldHTTPTimeoutSeconds},
	sectionBindings: {fieldTopic, fieldConsumerGroupID, fieldFunctionName,
		rules[minPendingMessages].field(), rules[cooldown].field(), rules[activityKeepAlive].field(), rules[minConsumedDelta].field()},
}

// rule indexes the four wake rules, which SlimFaasKafka sets per binding and
// kafkawake per function.
type rule int

const (
	minPendingMessages rule = iota
	cooldown
	activityKeepAlive
	minConsumedDelta
	ruleCount
)

type ruleSpec struct {
	slimFaasKafkaName string // binding field in SlimFaasKafka
	yamlKey           string // key under the processor's defaults and functions
	seconds           bool   // written as a duration
	bitSize           int    // C# int or long
	slimFaasDefault   int64
}

func (s ruleSpec) field() string { return strings.ToLower(s.slimFaasKafkaName) }

var rules = [ruleCount]ruleSpec{
	minPendingMessages: {"MinPendingMessages", "min_pending_messages", false, 32, 1},
	cooldown:           {"CooldownSeconds", "cooldown", true, 32, 30},
	activityKeepAlive:  {"ActivityKeepAliveSeconds", "activity_keep_alive", true, 32, 60},
	minConsumedDelta:   {"MinConsumedDeltaForActivity", "min_consumed_delta", false, 64, 1},
}

// wakeRules holds one value per rule; durations in seconds.
type wakeRules [ruleCount]int64

// ruleOverrides holds the rules of one function that differ from the defaults.
type ruleOverrides map[rule]int64

// collectorConfig is the otelcol-kafkawake configuration equivalent to a
// SlimFaasKafka one; durations are in seconds.
type collectorConfig struct {
	Brokers                   []string
	ClientID                  string
	CollectionIntervalSeconds int64
	TimeoutSeconds            int64
	Bindings                  []binding

	Endpoint           string
	WakePath           string // empty for the default route
	HTTPTimeoutSeconds int64
	Defaults           wakeRules
	Functions          map[string]ruleOverrides
}

type binding struct {
	Source        string // the variables' prefix, e.g. SlimFaasKafka__Bindings__0
	Topic         string
	ConsumerGroup string
	Function      string
}

// settingKey identifies one SlimFaasKafka setting whatever the case and prefix it was written with.
type settingKey struct {
	section string
	index   int // binding index; 0 outside bindings
	field   string
}

type variable struct {
	name  string
	value string
}

// convert turns SlimFaasKafka's environment into the equivalent collector
// configuration. Variables outside SlimFaasKafka's sections are ignored. The
// warnings describe settings that cannot be carried over exactly; the error
// names every variable that prevents the conversion.
func convert(env map[string]string) (collectorConfig, []string, error) {
	c := &converter{}
	c.collect(env)
	cfg := collectorConfig{
		Brokers:                   c.brokers(),
		ClientID:                  c.text(settingKey{sectionKafka, 0, fieldClientID}, defaultClientID),
		CollectionIntervalSeconds: c.atLeastOne(settingKey{sectionKafka, 0, fieldCheckIntervalSeconds}, defaultCheckIntervalSeconds),
		TimeoutSeconds:            c.atLeastOne(settingKey{sectionKafka, 0, fieldKafkaTimeoutSeconds}, defaultKafkaTimeoutSeconds),
		HTTPTimeoutSeconds:        c.atLeastOne(settingKey{sectionSlimFaas, 0, fieldHTTPTimeoutSeconds}, defaultHTTPTimeoutSeconds),
	}
	if v, ok := c.settings[settingKey{sectionKafka, 0, fieldAllowAutoCreateTopics}]; ok {
		c.warnf("%s has no equivalent and is dropped: kafkawake never creates topics, and reports a missing topic as an error", v.name)
	}
	cfg.Endpoint, cfg.WakePath = c.wakeURL()
	bindings, bindingRules := c.bindings()
	cfg.Bindings = bindings
	cfg.Defaults, cfg.Functions = c.functionRules(bindings, bindingRules)
	return cfg, c.warnings, errors.Join(c.errs...)
}

type converter struct {
	settings map[settingKey]variable
	warnings []string
	errs     []error
}

func (c *converter) warnf(format string, args ...any) {
	c.warnings = append(c.warnings, fmt.Sprintf(format, args...))
}

func (c *converter) errorf(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf(format, args...))
}

// collect keeps SlimFaasKafka's variables, one per setting. A setting written
// with both binding prefixes takes the SlimFaasKafka__ one, the only one
// SlimFaasKafka reads; the same setting written twice in different cases
// with different values is an error, since .NET would pick one at random.
func (c *converter) collect(env map[string]string) {
	type candidate struct {
		variable
		alias bool
	}
	candidates := map[settingKey][]candidate{}
	var order []settingKey
	aliasUsed := false
	// Sorted, so that messages come in the same order on every run.
	for _, name := range slices.Sorted(maps.Keys(env)) {
		key, alias, ok := c.parseName(name)
		if !ok {
			continue
		}
		if _, seen := candidates[key]; !seen {
			order = append(order, key)
		}
		candidates[key] = append(candidates[key], candidate{variable{name, env[name]}, alias})
		aliasUsed = aliasUsed || alias
	}
	if aliasUsed {
		c.warnf("SlimKafka__Bindings__* variables (the prefix in SlimFaasKafka's docs) are converted as SlimFaasKafka__Bindings__*; " +
			"SlimFaasKafka itself ignored them and watched the binding built into its image instead, so the converted bindings may be new to this deployment")
	}

	c.settings = map[settingKey]variable{}
	for _, key := range order {
		all := candidates[key]
		primary := slices.DeleteFunc(slices.Clone(all), func(cand candidate) bool { return cand.alias })
		if len(primary) == 0 {
			primary = all
		}
		chosen := primary[0]
		for _, other := range primary[1:] {
			if other.value != chosen.value {
				c.errorf("%s=%q and %s=%q set the same setting to different values", chosen.name, chosen.value, other.name, other.value)
			}
		}
		for _, other := range all {
			if other.alias && !chosen.alias && other.value != chosen.value {
				c.warnf("%s=%q is ignored: %s=%q takes precedence, as in SlimFaasKafka", other.name, other.value, chosen.name, chosen.value)
			}
		}
		c.settings[key] = chosen.variable
	}
}

// parseName recognises SlimFaasKafka's variables (section__Setting or
// section__Bindings__N__Field, any case). Unknown settings in its sections
// are warned about; other variables are not SlimFaasKafka's.
func (c *converter) parseName(name string) (key settingKey, alias, ok bool) {
	parts := strings.Split(strings.ToLower(name), "__")
	if len(parts) < 2 {
		return settingKey{}, false, false
	}
	switch parts[0] {
	case sectionKafka, sectionSlimFaas:
		key = settingKey{section: parts[0], field: strings.Join(parts[1:], "__")}
	case sectionBindings, sectionBindingsAlias:
		alias = parts[0] == sectionBindingsAlias
		key = settingKey{section: sectionBindings, field: strings.Join(parts[1:], "__")}
		if len(parts) == 4 && parts[1] == "bindings" {
			index, err := strconv.Atoi(parts[2])
			if err != nil || index < 0 {
				c.errorf("%s: the binding index %q is not a non-negative whole number", name, parts[2])
				return settingKey{}, false, false
			}
			key.index, key.field = index, parts[3]
		}
	default:
		return settingKey{}, false, false
	}
	if !slices.Contains(knownFields[key.section], key.field) {
		c.warnf("%s is not a SlimFaasKafka setting and is ignored", name)
		return settingKey{}, false, false
	}
	return key, alias, true
}

func (c *converter) text(key settingKey, fallback string) string {
	if v, ok := c.settings[key]; ok && v.value != "" {
		return v.value
	}
	return fallback
}

// integer parses a setting as a C# int (bitSize 32) or long (64).
func (c *converter) integer(key settingKey, bitSize int, fallback int64) int64 {
	v, ok := c.settings[key]
	if !ok {
		return fallback
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v.value), 10, bitSize)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			c.errorf("%s=%q: out of range for a %d-bit whole number", v.name, v.value, bitSize)
		} else {
			c.errorf("%s=%q: not a whole number", v.name, v.value)
		}
		return fallback
	}
	return n
}

// atLeastOne reads an interval or timeout in seconds, which SlimFaasKafka raises to at least 1.
func (c *converter) atLeastOne(key settingKey, fallback int64) int64 {
	return max(1, c.integer(key, 32, fallback))
}

func (c *converter) brokers() []string {
	key := settingKey{sectionKafka, 0, fieldBootstrapServers}
	var brokers []string
	for broker := range strings.SplitSeq(c.text(key, defaultBootstrapServers), ",") {
		if broker = strings.TrimSpace(broker); broker != "" {
			brokers = append(brokers, broker)
		}
	}
	if len(brokers) == 0 {
		c.errorf("%s=%q: lists no broker", c.settings[key].name, c.settings[key].value)
	}
	return brokers
}

// wakeURL splits the URL SlimFaasKafka posted to into kafkawake's endpoint
// and wake_path. SlimFaasKafka resolved the template as a URI relative to
// BaseUrl, so a template starting with / replaced BaseUrl's path, and any
// other template replaced its last segment; kafkawake appends wake_path to
// the endpoint, so the endpoint keeps only the scheme and host.
func (c *converter) wakeURL() (endpoint, wakePath string) {
	baseKey := settingKey{sectionSlimFaas, 0, fieldBaseURL}
	templateKey := settingKey{sectionSlimFaas, 0, fieldWakeUpPathTemplate}
	baseURL := c.text(baseKey, defaultBaseURL)
	template := c.text(templateKey, defaultWakePath)
	base, err := url.Parse(baseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		c.errorf("%s=%q: not an absolute http(s) URL", c.settings[baseKey].name, baseURL)
		return baseURL, ""
	}
	endpoint = (&url.URL{Scheme: base.Scheme, User: base.User, Host: base.Host}).String()

	template, found := replacePlaceholder(template)
	switch {
	case !found:
		c.errorf("%s=%q: must contain %s", c.settings[templateKey].name, template, functionNamePlaceholder)
		return endpoint, ""
	case strings.Contains(template, "://"):
		c.errorf("%s=%q: must be a path; put the scheme and host in SlimFaas__BaseUrl", c.settings[templateKey].name, template)
		return endpoint, ""
	case strings.HasPrefix(template, "/"):
		wakePath = template
		if strings.Trim(base.Path, "/") != "" {
			c.warnf("%s=%q: SlimFaasKafka dropped the path %q because the wake path template starts with /; the endpoint drops it too",
				c.settings[baseKey].name, baseURL, base.Path)
		}
	default:
		wakePath = base.Path[:strings.LastIndex(base.Path, "/")+1] + template
		if !strings.HasPrefix(wakePath, "/") {
			wakePath = "/" + wakePath
		}
	}
	if wakePath == defaultWakePath {
		return endpoint, ""
	}
	c.warnf("wake_path %q differs from the route SlimFaas serves, POST %s: check that it reaches SlimFaas, "+
		"since SlimFaasKafka's failed wakes went unnoticed", wakePath, defaultWakePath)
	return endpoint, wakePath
}

// replacePlaceholder writes {functionName} in the case kafkawake expects;
// SlimFaasKafka matched it in any case.
func replacePlaceholder(template string) (string, bool) {
	var out strings.Builder
	found := false
	for {
		i := strings.Index(strings.ToLower(template), strings.ToLower(functionNamePlaceholder))
		if i < 0 {
			out.WriteString(template)
			return out.String(), found
		}
		found = true
		out.WriteString(template[:i] + functionNamePlaceholder)
		template = template[i+len(functionNamePlaceholder):]
	}
}

// bindings reads the bindings in index order, each with its wake rules.
// An exact duplicate binding is dropped, as kafkawake rejects it.
func (c *converter) bindings() ([]binding, []wakeRules) {
	indexSet := map[int]bool{}
	for key := range c.settings {
		if key.section == sectionBindings {
			indexSet[key.index] = true
		}
	}
	if len(indexSet) == 0 {
		c.errorf("no bindings: set SlimFaasKafka__Bindings__0__Topic, SlimFaasKafka__Bindings__0__ConsumerGroupId and SlimFaasKafka__Bindings__0__FunctionName")
		return nil, nil
	}
	indexes := slices.Sorted(maps.Keys(indexSet))
	if indexes[0] != 0 {
		c.warnf("there is no binding 0: SlimFaasKafka's image has a built-in binding 0 (topic fibonacci1) which it watched too unless its appsettings.json was replaced; it is not converted")
	}

	var bindings []binding
	var bindingRules []wakeRules
	firstIndex := map[binding]int{}
	for _, index := range indexes {
		b, ok := c.binding(index)
		// Read even for an invalid binding, to report all its bad variables at once.
		r := c.bindingRules(index, b.Source)
		if !ok {
			continue
		}
		unsourced := b
		unsourced.Source = ""
		if first, dup := firstIndex[unsourced]; dup {
			c.warnf("%s repeats binding %d (topic %q, consumer group %q, function %q) and is dropped", b.Source, first, b.Topic, b.ConsumerGroup, b.Function)
			continue
		}
		firstIndex[unsourced] = index
		bindings = append(bindings, b)
		bindingRules = append(bindingRules, r)
	}
	return bindings, bindingRules
}

func (c *converter) binding(index int) (binding, bool) {
	source := ""
	for _, field := range knownFields[sectionBindings] {
		if v, ok := c.settings[settingKey{sectionBindings, index, field}]; ok {
			source = v.name[:strings.LastIndex(v.name, "__")]
			break
		}
	}
	b := binding{Source: source}
	ok := true
	for _, f := range []struct {
		field, name string
		value       *string
	}{
		{fieldTopic, "Topic", &b.Topic},
		{fieldConsumerGroupID, "ConsumerGroupId", &b.ConsumerGroup},
		{fieldFunctionName, "FunctionName", &b.Function},
	} {
		v := c.settings[settingKey{sectionBindings, index, f.field}]
		if strings.TrimSpace(v.value) == "" {
			c.errorf("%s__%s: required, must not be empty", source, f.name)
			ok = false
		}
		*f.value = v.value
	}
	if strings.TrimSpace(b.Function) != "" {
		if err := slimfaasname.Validate(b.Function); err != nil {
			c.errorf("%s__FunctionName: %v", source, err)
			ok = false
		}
	}
	return b, ok
}

// bindingRules reads a binding's rules with SlimFaasKafka's defaults and
// clamps, and fits them to kafkawake's ranges.
func (c *converter) bindingRules(index int, source string) wakeRules {
	var r wakeRules
	for i, spec := range rules {
		r[i] = c.integer(settingKey{sectionBindings, index, spec.field()}, spec.bitSize, spec.slimFaasDefault)
	}
	// SlimFaasKafka treats a negative cooldown as 0 and a keep-alive <= 0 as disabled.
	r[cooldown] = max(0, r[cooldown])
	r[activityKeepAlive] = max(0, r[activityKeepAlive])
	if r[minPendingMessages] < 1 {
		c.warnf("%s__MinPendingMessages=%d: SlimFaasKafka woke the function on every check even with nothing pending; "+
			"kafkawake needs at least 1, so it is set to 1 (to keep a function up, use SlimFaas's ReplicasMin)", source, r[minPendingMessages])
		r[minPendingMessages] = 1
	}
	// SlimFaasKafka counted any consumption as activity whatever this value.
	if r[minConsumedDelta] > 1 {
		c.warnf("%s__MinConsumedDeltaForActivity=%d had no effect in SlimFaasKafka; kafkawake honours it: "+
			"less consumption between two checks no longer keeps the function awake", source, r[minConsumedDelta])
	}
	r[minConsumedDelta] = max(1, r[minConsumedDelta])
	return r
}

// functionRules turns per-binding rules into kafkawake's per-function ones:
// each function takes the rules of its first binding; a rule is a default
// when every function shares it (SlimFaasKafka's default otherwise), and an
// override for the functions that differ.
func (c *converter) functionRules(bindings []binding, bindingRules []wakeRules) (wakeRules, map[string]ruleOverrides) {
	byFunction := map[string]wakeRules{}
	firstBinding := map[string]binding{}
	for i, b := range bindings {
		first, seen := firstBinding[b.Function]
		if !seen {
			firstBinding[b.Function] = b
			byFunction[b.Function] = bindingRules[i]
			continue
		}
		if bindingRules[i] != byFunction[b.Function] {
			c.warnf("%s and %s both wake function %q with different rules; kafkawake sets rules per function and uses those of %s (%s)",
				first.Source, b.Source, b.Function, first.Source, describeRules(byFunction[b.Function]))
		}
	}

	var defaults wakeRules
	functions := slices.Sorted(maps.Keys(byFunction))
	for i, spec := range rules {
		defaults[i] = spec.slimFaasDefault
		if len(functions) > 0 && allEqual(functions, byFunction, rule(i)) {
			defaults[i] = byFunction[functions[0]][i]
		}
	}
	overrides := map[string]ruleOverrides{}
	for _, function := range functions {
		for i := range rules {
			if v := byFunction[function][i]; v != defaults[i] {
				if overrides[function] == nil {
					overrides[function] = ruleOverrides{}
				}
				overrides[function][rule(i)] = v
			}
		}
	}
	return defaults, overrides
}

func allEqual(functions []string, byFunction map[string]wakeRules, r rule) bool {
	for _, f := range functions[1:] {
		if byFunction[f][r] != byFunction[functions[0]][r] {
			return false
		}
	}
	return true
}

func describeRules(r wakeRules) string {
	parts := make([]string, len(rules))
	for i, spec := range rules {
		parts[i] = fmt.Sprintf("%s=%d", spec.slimFaasKafkaName, r[i])
	}
	return strings.Join(parts, ", ")
}
