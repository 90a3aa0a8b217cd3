package http

import (
	"net/http"
	"strings"

	"github.com/abacus-billing/abacus"
)

// routes declares every route of the API, with who may call it and the
// room it takes (usage ingestion has its own admission).
func (s *Server) routes(mux *http.ServeMux) {
	var (
		anyKey      = func(h handler) handler { return s.authenticate(h) }
		backend     = func(h handler) handler { return s.authenticate(allow(abacus.RoleAdmin, abacus.RoleService)(h)) }
		route       = func(pattern string, h handler) { mux.Handle(pattern, s.serve(h)) }
		notFoundAPI = func(w http.ResponseWriter, r *http.Request) error {
			if allowed := methodsFor(mux, r); len(allowed) > 0 {
				w.Header().Set("Allow", strings.Join(allowed, ", "))
				return abacus.Errorf(abacus.CodeMethodNotAllowed, "", "%s takes %s, not %s", r.URL.Path, strings.Join(allowed, " or "), r.Method)
			}
			return abacus.Errorf(abacus.CodeNotFound, "", "no route for %s %s", r.Method, r.URL.Path)
		}
	)
	// A probe's query (a cache buster, a probe's name) asks nothing of
	// liveness: refused, it marked the node down (QA).
	route("GET /healthz", s.handleHealth)
	// Errors are JSON on every path, not Go's text (QA).
	route("/healthz", func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Allow", "GET, HEAD")
		return abacus.Errorf(abacus.CodeMethodNotAllowed, "", "%s takes GET, not %s", r.URL.Path, r.Method)
	})
	route("/", s.noRoute)

	route("POST /api/v1/accounts", backend(takes(s.within(roomBody, s.handleAccountCreate))))
	route("GET /api/v1/accounts/{id}", anyKey(takes(s.within(roomSmall, s.handleAccountGet))))
	route("GET /api/v1/accounts/{id}/entries", anyKey(takes(s.within(roomPage, s.handleEntries), "limit", "cursor")))

	route("POST /api/v1/ledger/transactions", backend(takes(s.within(roomBody, s.handleTransactionCreate))))
	route("GET /api/v1/ledger/transactions/{id}", anyKey(takes(s.within(roomSmall, s.handleTransactionGet))))
	route("POST /api/v1/ledger/transactions/{id}/revert", backend(takes(s.within(roomBody, s.handleRevert))))

	route("POST /api/v1/holds", backend(takes(s.within(roomBody, s.handleHoldCreate))))
	route("GET /api/v1/holds/{id}", anyKey(takes(s.within(roomSmall, s.handleHoldGet))))
	route("POST /api/v1/holds/{id}/post", backend(takes(s.within(roomBody, s.handleHoldPost))))
	route("POST /api/v1/holds/{id}/void", backend(takes(s.within(roomBody, s.handleHoldVoid))))

	route("POST /api/v1/accounting/metering/events", backend(takes(s.handleIngest)))
	route("GET /api/v1/accounting/metering/events", anyKey(takes(s.within(roomPage, s.handleEvents), "account", "status", "uncommitted", "from", "to", "after", "limit")))
	route("POST /api/v1/accounting/metering/events/{id}/void", backend(takes(s.within(roomBody, s.handleEventVoid))))
	route("GET /api/v1/accounting/metering/dead-letters", backend(takes(s.within(roomPage, s.handleDeadLetters), "after", "limit")))

	route("POST /api/v1/burst/utilisation", backend(takes(s.within(roomBody, s.handleUtilisation))))
	route("GET /api/v1/burst/levels", anyKey(takes(s.within(roomPage, s.handleBurstLevels))))

	route("/api/", anyKey(notFoundAPI))
}

// methodsFor lists the methods a route other than the catch-all serves
// r's path with: the path exists, and r used another method.
func methodsFor(mux *http.ServeMux, r *http.Request) []string {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/api/" {
			allowed = append(allowed, m)
			if m == http.MethodGet { // a GET pattern serves HEAD too (QA: Allow left it out)
				allowed = append(allowed, http.MethodHead)
			}
		}
	}
	return allowed
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// noRoute answers a path outside the API, OPTIONS * included.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) error {
	return abacus.Errorf(abacus.CodeNotFound, "", "no route for %s %s: the API is under /api/v1/", r.Method, r.URL.Path)
}
