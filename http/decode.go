package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/jsontext"
)

// maxBody bounds a request body.
const maxBody = 1 << 20

// decode reads one JSON object into v. Unknown fields, trailing data,
// wrong types and oversized bodies are errors that name what is wrong.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	return decodeBody(w, r, v, false)
}

// decodeOptional is decode for endpoints whose body may be left out.
func decodeOptional(w http.ResponseWriter, r *http.Request, v any) error {
	return decodeBody(w, r, v, true)
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
	// Read as it is, a compressed body was refused as bad JSON (QA).
	for _, coding := range r.Header.Values("Content-Encoding") {
		if c := strings.TrimSpace(coding); c != "" && !strings.EqualFold(c, "identity") {
			return abacus.Errorf(abacus.CodeUnsupportedMedia, "Content-Encoding", "%q is not supported here: send the body as it is", coding)
		}
	}
	body, err := readBody(w, r)
	if err != nil {
		return decodeError(err)
	}
	if len(body) > 0 {
		if err := jsonContentType(r.Header); err != nil {
			return err
		}
	}
	if at, bad := jsontext.BadString(body); bad && json.Valid(body) {
		return abacus.Errorf(abacus.CodeInvalid, fieldAt(body, at), "is not valid UTF-8 text (at byte %d): bytes that are not UTF-8, or half of an escaped surrogate pair, would be stored as U+FFFD", at)
	}
	if err := checkKeys(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if optional && err == io.EOF {
			return nil
		}
		return decodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return abacus.Errorf(abacus.CodeInvalid, "body", "holds more than one JSON value")
	}
	return nil
}

// readBody reads r's body, up to maxBody. One of unknown length takes
// more room once it passes unsizedStart, or is refused as busy.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, maxBody)
	if r.ContentLength >= 0 {
		return io.ReadAll(body)
	}
	start, err := io.ReadAll(io.LimitReader(body, unsizedStart+1))
	if err != nil || len(start) <= unsizedStart {
		return start, err
	}
	if !growRoom(r, bodyFactor*(maxBody-unsizedStart)) {
		return nil, busy(w)
	}
	rest, err := io.ReadAll(body)
	return append(start, rest...), err
}

// jsonContentType refuses a body declared as anything but JSON in UTF-8,
// as the usage endpoint does (QA: text/plain, a form and charset=latin1
// were all taken here). A body declared as nothing is read as JSON.
func jsonContentType(h http.Header) error {
	cts := h.Values("Content-Type")
	if len(cts) == 0 {
		return nil
	}
	if len(cts) > 1 {
		return abacus.Errorf(abacus.CodeInvalid, "Content-Type", "is given %d times; send it once", len(cts))
	}
	mt, params, err := mime.ParseMediaType(cts[0])
	if err != nil {
		return abacus.Errorf(abacus.CodeInvalid, "Content-Type", "%q is not a media type", cts[0])
	}
	if cs, ok := params["charset"]; mt != "application/json" || ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return abacus.Errorf(abacus.CodeUnsupportedMedia, "Content-Type", "%q is not supported: send application/json, in UTF-8", cts[0])
	}
	return nil
}

func decodeError(err error) error {
	var (
		syntax   *json.SyntaxError
		typ      *json.UnmarshalTypeError
		tooLarge *http.MaxBytesError
		conn     net.Error
	)
	switch {
	case errors.As(err, &tooLarge):
		return abacus.Errorf(abacus.CodeTooLarge, "body", "is larger than %d bytes", tooLarge.Limit)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return abacus.Errorf(abacus.CodeTimeout, "body", "did not arrive in time")
	case errors.As(err, &conn):
		// Its text names this machine's and the client's sockets, which
		// are no business of the client's.
		return abacus.Errorf(abacus.CodeInvalid, "body", "cannot be read: the connection failed")
	case errors.As(err, &syntax):
		return abacus.Errorf(abacus.CodeInvalid, "body", "is not valid JSON (at byte %d)", syntax.Offset)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return abacus.Errorf(abacus.CodeInvalid, "body", "is empty or cut short; send a JSON object")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return abacus.Errorf(abacus.CodeInvalid, "body", "must be a JSON object")
		}
		if typ.Type.Kind().String() == "string" && typ.Value == "number" {
			return abacus.Errorf(abacus.CodeInvalid, field, "must be a JSON string, not a number (an amount is a string holding an exact decimal such as \"10.5\")")
		}
		return abacus.Errorf(abacus.CodeInvalid, field, "must be a JSON %s, not %s", jsonKind(typ.Type.Kind().String()), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return abacus.Errorf(abacus.CodeInvalid, name, "is not a known field")
	}
	var ae *abacus.Error
	if errors.As(err, &ae) {
		return ae
	}
	return abacus.Errorf(abacus.CodeInvalid, "body", "cannot be read: %v", err)
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "struct", "map", "ptr":
		return "object"
	}
	return "number"
}

// parseAmount parses a required amount, naming field on error.
func parseAmount(s, field string) (abacus.Amount, error) {
	if s == "" {
		return abacus.Zero, abacus.Errorf(abacus.CodeInvalid, field, "is required: a string holding an exact decimal such as \"10.5\"")
	}
	a, err := abacus.ParseAmount(s)
	if err != nil {
		return abacus.Zero, abacus.RenameField(err, field)
	}
	return a, nil
}

func required(v, field string) error {
	if v == "" {
		return abacus.Errorf(abacus.CodeInvalid, field, "is required")
	}
	return nil
}

func pathID(r *http.Request, name string) (int64, error) {
	var id int64
	s := r.PathValue(name)
	if _, err := fmt.Sscan(s, &id); err != nil || id <= 0 || fmt.Sprint(id) != s {
		return 0, abacus.Errorf(abacus.CodeInvalid, name, "%q is not an id", s)
	}
	return id, nil
}

// takes refuses a request whose query string holds a parameter h does not
// read, or a parameter twice, naming it: a misspelt filter (acount=) had
// been ignored, widening a listing, and of two values the first was taken
// unseen (QA).
func takes(h handler, params ...string) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := checkQuery(r.URL.RawQuery, params); err != nil {
			return err
		}
		return h(w, r)
	}
}

func checkQuery(raw string, params []string) error {
	vs, err := url.ParseQuery(raw)
	if err != nil {
		return abacus.Errorf(abacus.CodeInvalid, "query", "cannot be read: %v", err)
	}
	keys := make([]string, 0, len(vs))
	for k := range vs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		switch {
		case k == "":
			return abacus.Errorf(abacus.CodeInvalid, "query", "holds a parameter without a name")
		case !slices.Contains(params, k) && len(params) == 0:
			return abacus.Errorf(abacus.CodeInvalid, k, "is not a parameter: this endpoint takes none")
		case !slices.Contains(params, k):
			return abacus.Errorf(abacus.CodeInvalid, k, "is not a parameter of this endpoint, which takes %s", strings.Join(params, ", "))
		case len(vs[k]) > 1:
			return abacus.Errorf(abacus.CodeInvalid, k, "is given %d times; give it once", len(vs[k]))
		}
	}
	return nil
}
