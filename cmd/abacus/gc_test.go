package main

import (
	"os"
	"runtime/debug"
	"testing"
)

func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))

	t.Setenv("GOGC", "150") // restored after the test
	debug.SetGCPercent(123)
	tuneGC()
	if got := debug.SetGCPercent(100); got != 123 {
		t.Fatalf("with GOGC set, the collector's target changed to %d", got)
	}

	os.Unsetenv("GOGC")
	tuneGC()
	if got := debug.SetGCPercent(100); got != defaultGOGC {
		t.Fatalf("without GOGC, the collector's target is %d, want %d", got, defaultGOGC)
	}
}
