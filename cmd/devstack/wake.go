package main

import "net/http"

// newWakeHandler answers SlimFaas's wake call for the one function it knows:
// 204 for it, 404 for any other name, and (from the method in the pattern)
// 405 for anything but POST.
func newWakeHandler(fn *function, log *console) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /wake-function/{functionName}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("functionName")
		if name != fn.cfg.Function {
			log.printf("slimfaas", "wake for unknown function %q: 404", name)
			http.NotFound(w, r)
			return
		}
		if fn.wake() {
			log.printf("slimfaas", "wake %s: it was scaled to zero, starting it", name)
		} else {
			log.printf("slimfaas", "wake %s: already running", name)
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}
