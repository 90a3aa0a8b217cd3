package http

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func bodyOf(ctx context.Context, size int64) *http.Request {
	r := httptest.NewRequestWithContext(ctx, "POST", "/", nil)
	r.ContentLength = size
	return r
}

// TestAdmission: requests wait, in order, until their bodies fit; one
// larger than the room runs alone; one declared over the limit, or whose
// client gives up waiting, is refused.
func TestAdmission(t *testing.T) {
	a := newAdmission(100)
	w := httptest.NewRecorder()
	ctx := context.Background()
	releaseA, err := a.admit(w, bodyOf(ctx, 60), 1000)
	if err != nil {
		t.Fatal(err)
	}
	admitted := make(chan string, 2)
	var releaseB, releaseC func()
	go func() {
		releaseB, _ = a.admit(w, bodyOf(ctx, 50), 1000) // does not fit beside A
		admitted <- "B"
		releaseC, _ = a.admit(w, bodyOf(ctx, -1), 1000) // no Content-Length: the largest body, clamped to the room
		admitted <- "C"
	}()
	select {
	case who := <-admitted:
		t.Fatalf("%s was admitted while A held 60 of 100", who)
	case <-time.After(200 * time.Millisecond):
	}
	releaseA()
	if who := <-admitted; who != "B" {
		t.Fatalf("%s first", who)
	}
	select {
	case <-admitted:
		t.Fatal("C, which needs the whole room, was admitted beside B")
	case <-time.After(200 * time.Millisecond):
	}
	releaseB()
	<-admitted
	// Waiting ends when the client gives up.
	gone, cancel := context.WithCancel(ctx)
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	if _, err := a.admit(w, bodyOf(gone, 10), 1000); err == nil {
		t.Fatal("a request admitted while C held the whole room")
	}
	releaseC()
	if _, err := a.admit(w, bodyOf(ctx, 1001), 1000); err == nil {
		t.Fatal("a body declared over the limit was admitted")
	}
	if release, err := a.admit(w, bodyOf(ctx, 100), 1000); err != nil {
		t.Fatalf("the room is free again: %v", err)
	} else {
		release()
	}
}
