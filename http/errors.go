package http

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/store"
)

// statusOf is the one table from error codes to HTTP statuses.
var statusOf = map[abacus.ErrorCode]int{
	abacus.CodeInvalid:             http.StatusBadRequest,
	abacus.CodeNotFound:            http.StatusNotFound,
	abacus.CodeMethodNotAllowed:    http.StatusMethodNotAllowed,
	abacus.CodeConflict:            http.StatusConflict,
	abacus.CodeIdempotencyConflict: http.StatusConflict,
	abacus.CodeInsufficientFunds:   http.StatusUnprocessableEntity,
	abacus.CodeCurrencyMismatch:    http.StatusUnprocessableEntity,
	abacus.CodeOverflow:            http.StatusUnprocessableEntity,
	abacus.CodeHoldNotOpen:         http.StatusConflict,
	abacus.CodeHoldExpired:         http.StatusConflict,
	abacus.CodeAlreadyReverted:     http.StatusConflict,
	abacus.CodeUnauthorized:        http.StatusUnauthorized,
	abacus.CodeForbidden:           http.StatusForbidden,
	abacus.CodeTooLarge:            http.StatusRequestEntityTooLarge,
	abacus.CodeUnsupportedMedia:    http.StatusUnsupportedMediaType,
	abacus.CodeTimeout:             http.StatusRequestTimeout,
	abacus.CodeUnavailable:         http.StatusServiceUnavailable,
	abacus.CodeInternal:            http.StatusInternalServerError,
}

// pathNotFound names the path's id in a not-found error, whatever the
// layer below called it ("hold", "transaction", none), so that every 404
// of a route with an {id} names "id" (QA).
func pathNotFound(err error) error {
	if abacus.ErrorCodeOf(err) == abacus.CodeNotFound {
		return abacus.RenameField(err, "id")
	}
	return err
}

// errorBody is how every error travels.
type errorBody struct {
	Code    abacus.ErrorCode `json:"code"`
	Message string           `json:"message"`
	Field   string           `json:"field,omitempty"`
}

// writeError renders err. Errors that are not *abacus.Error are outages
// of the database, answered 503 (the request may be sent again), or bugs,
// answered 500; both are logged, outages at most once in 10 s.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *abacus.Error
	switch {
	case errors.As(err, &e):
		if e.Code == abacus.CodeInternal {
			s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		return // the client went away; nobody is listening
	case store.Unavailable(err):
		if ok, missed := s.outageLog.Allow(time.Now()); ok {
			s.log.Warn("the database is unreachable; requests get 503 (logged once in 10 s at most)", "method", r.Method, "path", r.URL.Path,
				"err", err, "not_logged", missed)
		}
		e = &abacus.Error{Code: abacus.CodeUnavailable, Message: "the database is unreachable; try again in a moment"}
	default:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		e = &abacus.Error{Code: abacus.CodeInternal, Message: "internal error; it has been logged"}
	}
	status, ok := statusOf[e.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	switch status {
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "1")
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="abacus"`) // RFC 9110 asks a 401 to say how to authenticate
	}
	_ = writeJSON(w, status, errorBody{Code: e.Code, Message: clipText(e.Error()), Field: clipText(e.Field)})
}

// clipText cuts what an error echoes of a request at 1,000 bytes (on a
// character's boundary): a key of a megabyte came back twice (QA).
func clipText(s string) string {
	const most = 1000
	if len(s) <= most {
		return s
	}
	cut := most
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	// Balances and charges are nobody's to keep in a cache, and the body
	// is JSON whatever a browser would sniff in it (QA).
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	// The encoder writes nothing until the whole value is encoded, and the
	// status goes with its first write: a value it cannot encode (a row
	// edited by hand to a time past year 9999) is an error for the caller
	// to answer, where it had been a 200 with an empty body (QA).
	out := &statusOnWrite{w: w, status: status}
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil && !out.sent {
		return fmt.Errorf("encoding the answer as JSON: %w", err)
	}
	return nil
}

// statusOnWrite sends its status with the first write.
type statusOnWrite struct {
	w      http.ResponseWriter
	status int
	sent   bool
}

func (o *statusOnWrite) Write(p []byte) (int, error) {
	if !o.sent {
		o.sent = true
		o.w.WriteHeader(o.status)
	}
	return o.w.Write(p)
}
