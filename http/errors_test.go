package http

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
)

// TestAnswerThatCannotBeEncodedIs500: a value encoding/json refuses (a
// time past year 9999, as a row edited by hand can hold) is answered 500
// with an error body, and logged, where it had been a 200 with an empty
// body (QA).
func TestAnswerThatCannotBeEncodedIs500(t *testing.T) {
	var logged bytes.Buffer
	s := &Server{log: slog.New(slog.NewTextHandler(&logged, nil))}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/api/v1/transactions/1", nil)
	err := writeJSON(rec, 200, struct{ At time.Time }{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err == nil {
		t.Fatal("no error for a time encoding/json refuses")
	}
	s.writeError(rec, req, err)
	var body errorBody
	if rec.Code != 500 || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body.Code != abacus.CodeInternal || !bytes.Contains(logged.Bytes(), []byte("year")) {
		t.Fatalf("answered %d %q, logged %q", rec.Code, rec.Body, logged.String())
	}

	rec = httptest.NewRecorder()
	if err := writeJSON(rec, 201, map[string]string{"a": "<&>"}); err != nil || rec.Code != 201 || rec.Body.String() != "{\"a\":\"<&>\"}\n" {
		t.Fatalf("a plain answer: %v %d %q", err, rec.Code, rec.Body)
	}
}
