// Package quietlog keeps a log line that repeats while something is down
// (a database, a server) from burying everything else: it is logged at
// most once a period, with a count of the ones left out.
package quietlog

import (
	"sync"
	"time"
)

// Limiter lets one line through per period.
type Limiter struct {
	Period time.Duration

	mu     sync.Mutex
	next   time.Time
	missed int
}

// Allow says whether to log at now, and how many lines it held back
// since the last one it let through.
func (l *Limiter) Allow(now time.Time) (ok bool, missed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Before(l.next) {
		l.missed++
		return false, 0
	}
	missed, l.missed = l.missed, 0
	l.next = now.Add(l.Period)
	return true, missed
}
