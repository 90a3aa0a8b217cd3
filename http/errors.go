package http

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/abacus-billing/abacus"
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

// errorBody is how every error travels.
type errorBody struct {
	Code    abacus.ErrorCode `json:"code"`
	Message string           `json:"message"`
	Field   string           `json:"field,omitempty"`
}

// writeError renders err. Errors that are not *abacus.Error are bugs or
// outages: they are logged and answered with a generic message.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var e *abacus.Error
	if !errors.As(err, &e) {
		if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
			return // the client went away; nobody is listening
		}
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		e = &abacus.Error{Code: abacus.CodeInternal, Message: "internal error; it has been logged"}
	} else if e.Code == abacus.CodeInternal {
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	status, ok := statusOf[e.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, errorBody{Code: e.Code, Message: e.Error(), Field: e.Field})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}
