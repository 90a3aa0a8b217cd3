package abacus

import (
	"errors"
	"fmt"
)

// ErrorCode is a machine-readable error class. Faces map codes to their
// own status codes in one table each; the core never picks a status.
type ErrorCode string

// The error codes of the core.
const (
	CodeInvalid             ErrorCode = "invalid"                // bad input; Field names it
	CodeNotFound            ErrorCode = "not_found"              // the named thing does not exist
	CodeMethodNotAllowed    ErrorCode = "method_not_allowed"     // the path exists, for other methods
	CodeConflict            ErrorCode = "conflict"               // it exists already, differently
	CodeIdempotencyConflict ErrorCode = "idempotency_conflict"   // key reused with another request
	CodeInsufficientFunds   ErrorCode = "insufficient_funds"     // a floor would be crossed
	CodeCurrencyMismatch    ErrorCode = "currency_mismatch"      // amount and account differ in currency
	CodeOverflow            ErrorCode = "overflow"               // an amount would not fit
	CodeHoldNotOpen         ErrorCode = "hold_not_open"          // hold already posted, voided or expired
	CodeHoldExpired         ErrorCode = "hold_expired"           // hold passed its expiry
	CodeAlreadyReverted     ErrorCode = "already_reverted"       // a transaction is reverted at most once
	CodeUnauthorized        ErrorCode = "unauthorized"           // no or unknown credentials
	CodeForbidden           ErrorCode = "forbidden"              // credentials lack the right
	CodeTooLarge            ErrorCode = "too_large"              // request body over the limit
	CodeUnsupportedMedia    ErrorCode = "unsupported_media_type" // a content type or coding not taken; Field names the header
	CodeTimeout             ErrorCode = "timeout"                // the request did not arrive in the time allowed
	CodeUnavailable         ErrorCode = "unavailable"            // shutting down or overloaded; retry
	CodeInternal            ErrorCode = "internal"               // a bug
)

// Error is the error type of the core. Message is meant for people and
// names the field at fault; Code and Field are meant for programs.
type Error struct {
	Code    ErrorCode
	Field   string
	Message string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

// Errorf returns an *Error with a formatted message.
func Errorf(code ErrorCode, field, format string, args ...any) *Error {
	return &Error{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrKeyInAnotherCase refuses a JSON key, field, that is the key name
// spelled in another case ("VALUE" for "value"): Go's encoding/json, which
// CSGHub's services decode with, would read it as name, so abacus would
// bill the event one way and its producer's own books another.
func ErrKeyInAnotherCase(field, name string) *Error {
	return Errorf(CodeInvalid, field, "is %s spelled in another case; spell it %s, and send it once (encoding/json would read this key as %s, and abacus does not guess which value was meant)", name, name, name)
}

// ErrorCodeOf returns the code of err, or CodeInternal if err is not an *Error.
func ErrorCodeOf(err error) ErrorCode {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// WithField returns err with its field set to field (prefixing any field
// it had, so "amount" inside postings[2] becomes "postings[2].amount").
func WithField(err error, field string) error {
	var e *Error
	if !errors.As(err, &e) {
		return err
	}
	c := *e
	if c.Field == "" {
		c.Field = field
	} else {
		c.Field = field + "." + c.Field
	}
	return &c
}

// RenameField returns err naming field instead of whatever field it named:
// for a value checked by a helper that knows it by another name ("account"
// checked as a path "id").
func RenameField(err error, field string) error {
	var e *Error
	if !errors.As(err, &e) {
		return err
	}
	c := *e
	c.Field = field
	return &c
}
