package main

import (
	"fmt"
	"io"
)

// listedEvents is how many events of a kind a command lists one by one.
const listedEvents = 20

// listed lists the first events of a kind (refused, still unpriced) that a
// rerate or a correction met, a line each, and counts the rest: a month
// refused refuses every event of it, each with a line of its own (QA:
// 1,001 lines, 800 KB, for one account-month).
type listed struct{ n int }

// add counts an event, and lists it while fewer than listedEvents are.
func (l *listed) add(stderr io.Writer, format string, args ...any) {
	if l.n++; l.n <= listedEvents {
		fmt.Fprintf(stderr, format+"\n", args...)
	}
}

// more ends the list with the count of those not listed, which are what.
func (l *listed) more(stderr io.Writer, what string) {
	if l.n > listedEvents {
		fmt.Fprintf(stderr, "and %d more %s\n", l.n-listedEvents, what)
	}
}

// where says where the refused events are listed.
func (l *listed) where() string {
	if l.n > listedEvents {
		return fmt.Sprintf("(the first %d listed above)", listedEvents)
	}
	return "(listed above)"
}

// note says, for an interruption's message, what became of the refused
// events: one for a single event, many for more.
func (l *listed) note(one, many string) string {
	switch {
	case l.n == 1:
		return "; the 1 event refused " + l.where() + " " + one
	case l.n > 1:
		return fmt.Sprintf("; the %d events refused %s %s", l.n, l.where(), many)
	}
	return ""
}
