// Package http is abacus's native HTTP API: JSON over the ledger engine,
// with bearer-token API keys. Routes are declared in routes.go, the error
// to status mapping lives in errors.go, and handlers only translate: every
// rule lives in the core.
package http

import (
	"log"
	"log/slog"
	"net/http"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/quietlog"
	"github.com/abacus-billing/abacus/ledger"
)

// Server serves the API.
type Server struct {
	engine *ledger.Engine
	store  abacus.Store
	log    *slog.Logger
	auth   *authenticator
	now    func() time.Time
	ingest *admission
	room   *requestRoom // of every other request
	kept   *keptConns
	// outageLog quiets the line each request logs while the database is
	// unreachable.
	outageLog quietlog.Limiter
}

// Config is how a Server is set up; the zero value is the defaults.
type Config struct {
	Logger *slog.Logger // slog.Default() if nil
	// IngestMemory bounds the bytes of usage request bodies, and of what
	// they decode to, held at once (DefaultIngestMemory if 0); see
	// admission.
	IngestMemory int64
	// RequestMemory bounds the bytes every other request holds at once
	// (DefaultRequestMemory if 0); see requestRoom.
	RequestMemory int64
	// ConnectionsPerKey bounds the connections one API key keeps open
	// between requests (DefaultConnectionsPerKey if 0); see keptConns.
	ConnectionsPerKey int
}

// DefaultIngestMemory is how many bytes of usage request bodies, and of
// what they decode to, the ingestion endpoint holds at once unless
// configured otherwise.
const DefaultIngestMemory = 256 << 20

// NewServer returns a server over the engine and its store.
func NewServer(engine *ledger.Engine, cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.IngestMemory <= 0 {
		cfg.IngestMemory = DefaultIngestMemory
	}
	if cfg.RequestMemory <= 0 {
		cfg.RequestMemory = DefaultRequestMemory
	}
	if cfg.ConnectionsPerKey <= 0 {
		cfg.ConnectionsPerKey = DefaultConnectionsPerKey
	}
	st := engine.Store()
	return &Server{
		engine:    engine,
		store:     st,
		log:       cfg.Logger,
		auth:      &authenticator{store: st, cache: map[string]cachedKey{}},
		now:       engine.Now,
		ingest:    splitAdmission(cfg.IngestMemory),
		room:      newRequestRoom(cfg.RequestMemory),
		kept:      newKeptConns(cfg.ConnectionsPerKey),
		outageLog: quietlog.Limiter{Period: 10 * time.Second},
	}
}

// handler is an http handler that returns its error for writeError.
type handler func(http.ResponseWriter, *http.Request) error

func (s *Server) serve(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

// Handler returns the API's routes. A connection is closed after the
// answer to a request that did not present a valid key (authenticate
// keeps it open for one that did, within its key's bound of keptConns): a
// client without a key that sent a request every two minutes kept its
// connection for ever, and some thousands of them took every file the
// process may open, locking every client out (QA).
//
// Go reads on after the answer for a body the handler left unread, up to
// 256 KiB and the request's minute, so as to reuse the connection: a
// client without a key that declared a body and sent it a byte at a time
// held its connection for that minute (QA). A connection that is to close
// reads for closingGrace more at most: a client sending its body at once
// gets it read, and its answer then a clean close, where one closed with
// the body unread was reset, and a client still sending lost its answer
// (regression QA).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	s.routes(mux)
	noRoute := s.serve(s.noRoute)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		if r.RequestURI == "*" { // OPTIONS *, which ServeMux answers in plain text
			noRoute(w, r)
		} else {
			mux.ServeHTTP(w, r)
		}
		if w.Header().Get("Connection") == "close" {
			http.NewResponseController(w).SetReadDeadline(time.Now().Add(closingGrace)) // fails only with no connection to bound
		}
	})
}

// The connection deadlines of HTTPServer. A client holds a connection
// only as long as a request may take: without them, a connection left
// idle after an answer, or a request whose body never came (even one
// refused 401, whose body the server waits to drain), was held for ever,
// and a few thousand, which need no key, locked every client out (QA).
// The usage endpoint sets its own (bodyDeadline, answerDeadline).
var (
	headerDeadline = 10 * time.Second
	idleDeadline   = 2 * time.Minute
	closingGrace   = 500 * time.Millisecond // see Handler
)

// maxHeaderBytes bounds a request's headers, which Go's server holds
// before abacus sees them and so before any key is checked: at Go's
// default of 1 MiB, 300 connections whose headers never ended took a
// gigabyte (QA). A key, an idempotency key and a CloudEvent's ce-*
// attributes need a few hundred bytes.
const maxHeaderBytes = 16 << 10

// HTTPServer returns an http.Server for the API with its deadlines: the
// request's headers within headerDeadline, the whole request within
// bodyDeadline, the answer within answerDeadline, and idleDeadline between
// requests, and at most Config.ConnectionsPerKey connections kept open
// between requests for each API key.
func (s *Server) HTTPServer(errorLog *log.Logger) *http.Server {
	// Go's own answer to OPTIONS * kept the connection open without a
	// key, for ever at one every two minutes (QA): Handler answers it.
	return &http.Server{Handler: s.Handler(), ErrorLog: errorLog, MaxHeaderBytes: maxHeaderBytes, DisableGeneralOptionsHandler: true,
		ReadHeaderTimeout: headerDeadline, ReadTimeout: bodyDeadline, WriteTimeout: answerDeadline, IdleTimeout: idleDeadline,
		ConnContext: withConn, ConnState: s.kept.connState}
}
