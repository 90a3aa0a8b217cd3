package quietlog

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	l := Limiter{Period: 10 * time.Second}
	t0 := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	for _, step := range []struct {
		at     time.Duration
		ok     bool
		missed int
	}{
		{0, true, 0}, {time.Second, false, 0}, {9 * time.Second, false, 0},
		{10 * time.Second, true, 2}, {11 * time.Second, false, 0}, {time.Minute, true, 1}, {time.Minute + 10*time.Second, true, 0},
	} {
		if ok, missed := l.Allow(t0.Add(step.at)); ok != step.ok || missed != step.missed {
			t.Fatalf("at %s: %v, %d; want %v, %d", step.at, ok, missed, step.ok, step.missed)
		}
	}
}
