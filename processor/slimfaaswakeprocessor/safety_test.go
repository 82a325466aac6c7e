package slimfaaswakeprocessor

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"

	schema "github.com/kafkawake/kafkawake/internal/metadata"
	"github.com/kafkawake/kafkawake/internal/slimfaastest"
)

func TestWakeFollows307And308AsAPost(t *testing.T) {
	for _, code := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			final := slimfaastest.New(t)
			front := slimfaastest.NewScripted(t, func(w http.ResponseWriter, r *http.Request, _ int) {
				http.Redirect(w, r, final.URL+r.URL.Path, code)
			})
			tp := newTestProcessor(t, configFor(front.URL))
			tp.process(t, batch([]point{pendingPoint("t", "g", "f", 1)}))
			tp.waitForCalls(t)

			calls := final.Calls()
			require.Len(t, calls, 1)
			assert.Equal(t, http.MethodPost+" /wake-function/f", calls[0].Method+" "+calls[0].URI)
			out := tp.process(t, batch([]point{pendingPoint("t", "g", "f", 1)}))
			assert.Equal(t, int64(1), counters(t, out, 0)[wakeups("t", "g", "f", schema.AttributeReasonPending)])
		})
	}
}

// A redirect that an HTTP client follows with a GET (an ingress sending
// http to https) is a failed attempt naming the status and the Location, not
// a GET that SlimFaas answers 405.
func TestRedirectThatWouldTurnTheWakeIntoAGetIsAFailedAttempt(t *testing.T) {
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			final := slimfaastest.New(t)
			front := slimfaastest.NewScripted(t, func(w http.ResponseWriter, r *http.Request, _ int) {
				http.Redirect(w, r, final.URL+r.URL.Path, code)
			})
			tp := newTestProcessor(t, configFor(front.URL))
			tp.process(t, batch([]point{pendingPoint("t", "g", "f", 1)}))
			tp.waitForCalls(t)

			assert.Empty(t, final.Calls(), "the redirect is not followed")
			out := tp.process(t, batch([]point{pendingPoint("t", "g", "f", 1)}))
			got := counters(t, out, 0)
			assert.Equal(t, int64(1), got[failures("t", "g", "f", schema.AttributeReasonPending)])
			assert.Zero(t, got[wakeups("t", "g", "f", schema.AttributeReasonPending)])
			failed := tp.logs.FilterMessage("Wake attempt failed").FilterLevelExact(zapcore.WarnLevel).All()
			require.Len(t, failed, 1)
			msg := fmt.Sprint(failed[0].ContextMap()["error"])
			assert.Contains(t, msg, fmt.Sprintf("%d %s", code, http.StatusText(code)))
			assert.Contains(t, msg, fmt.Sprintf("Location %q", final.URL+"/wake-function/f"))
		})
	}
}

// Twenty functions whose endpoint hangs do not hold back three healthy
// ones: each hung function holds one call, and the healthy functions are
// woken every time their cooldown ends.
func TestHungEndpointsDoNotDelayHealthyFunctions(t *testing.T) {
	const hung, healthy, rounds = 20, 3, 3
	slimfaas := slimfaastest.NewScripted(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		if strings.HasPrefix(r.URL.Path, slimfaastest.WakePrefix+"hung-") {
			<-r.Context().Done() // until the processor shuts down
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	tp := newTestProcessor(t, configFor(slimfaas.URL))
	var points []point
	for i := range hung {
		points = append(points, pendingPoint("t", "g", fmt.Sprintf("hung-%d", i), 1))
	}
	for i := range healthy {
		points = append(points, pendingPoint("t", "g", fmt.Sprintf("healthy-%d", i), 1))
	}

	for round := 1; round <= rounds; round++ {
		tp.process(t, batch(points))
		require.Eventually(t, func() bool {
			tp.mu.Lock()
			defer tp.mu.Unlock()
			for i := range healthy {
				name := fmt.Sprintf("healthy-%d", i)
				if slimfaas.CallsFor(name) < round || tp.bindings.functions.state(name).inFlight {
					return false
				}
			}
			return true
		}, 10*time.Second, time.Millisecond, "round %d: healthy functions wait for hung ones", round)
		tp.clock.Advance(defaultCooldown)
	}
	for i := range healthy {
		assert.Equal(t, rounds, slimfaas.Wakes()[fmt.Sprintf("healthy-%d", i)], "healthy-%d is woken once per cooldown", i)
	}
	for i := range hung {
		assert.Equal(t, 1, slimfaas.CallsFor(fmt.Sprintf("hung-%d", i)), "hung-%d holds one call, whatever the rounds", i)
	}
}

func TestAnOverrideOfAFunctionNoBindingNamesIsWarnedAbout(t *testing.T) {
	cfg := configFor(unreachableEndpoint)
	cfg.DryRun = true
	cfg.Functions = map[string]WakeRuleOverrides{"orders": {}, "ordres": {}}
	tp := newTestProcessor(t, cfg)
	warnings := func() []string {
		var names []string
		for _, e := range tp.logs.FilterMessageSnippet("an override names a function that no binding has named").All() {
			names = append(names, fmt.Sprint(e.ContextMap()["function"]))
		}
		return names
	}
	in := func() { tp.process(t, batch([]point{pendingPoint("t", "g", "orders", 0)})) }

	in()
	tp.clock.Advance(cfg.BindingExpiry - time.Second)
	in()
	assert.Empty(t, warnings(), "a binding may still be on its way")
	tp.clock.Advance(time.Second)
	in()
	assert.Equal(t, []string{"ordres"}, warnings())
	tp.clock.Advance(cfg.BindingExpiry)
	in()
	assert.Equal(t, []string{"ordres"}, warnings(), "warned once")
}
