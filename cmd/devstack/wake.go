package main

import (
	"fmt"
	"net/http"
)

// newWakeHandler answers SlimFaas's wake call for the one function it knows:
// 204 for it, 404 for any other name, and (from the method in the pattern)
// 405 for anything but POST. A wake that starts the function says how long
// after the producer's latest burst it came.
func newWakeHandler(fn *function, log *console, bursts *burstClock) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /wake-function/{functionName}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("functionName")
		if name != fn.cfg.Function {
			log.printf("slimfaas", "wake for unknown function %q: 404", name)
			http.NotFound(w, r)
			return
		}
		if fn.wake() {
			after := ""
			if d, ok := bursts.since(); ok {
				after = fmt.Sprintf(" (%.1f ms after the latest burst was produced)", float64(d.Microseconds())/1000)
			}
			log.printf("slimfaas", "wake %s: it was scaled to zero, starting it%s", name, after)
		} else {
			log.printf("slimfaas", "wake %s: already running", name)
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}
