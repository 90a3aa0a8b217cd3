// Package http is abacus's native HTTP API: JSON over the ledger engine,
// with bearer-token API keys. Routes are declared in routes.go, the error
// to status mapping lives in errors.go, and handlers only translate: every
// rule lives in the core.
package http

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/ledger"
)

// Server serves the API.
type Server struct {
	engine *ledger.Engine
	store  abacus.Store
	log    *slog.Logger
	auth   *authenticator
	now    func() time.Time
}

// NewServer returns a server over the engine and its store.
func NewServer(engine *ledger.Engine, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	st := engine.Store()
	return &Server{
		engine: engine,
		store:  st,
		log:    log,
		auth:   &authenticator{store: st, cache: map[string]cachedKey{}},
		now:    engine.Now,
	}
}

// handler is an http handler that returns its error for writeError.
type handler func(http.ResponseWriter, *http.Request) error

func (s *Server) serve(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			writeError(w, r, s.log, err)
		}
	}
}

// Handler returns the API's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	s.routes(mux)
	return mux
}
