package main

import (
	"fmt"
	"io"

	"github.com/abacus-billing/abacus"
)

// listedRefusals is how many refused events a command lists one by one.
const listedRefusals = 20

// refusals lists the first refused events of a rerate or a correction
// and counts the rest: a month refused refuses every event of it, each
// with a line of its own (QA: 1,001 lines, 800 KB, for one account-month).
type refusals struct{ n int }

func (r *refusals) add(stderr io.Writer, res abacus.IngestResult) {
	if r.n++; r.n <= listedRefusals {
		fmt.Fprintf(stderr, "event %s: %v\n", res.ID, res.Err)
	}
}

// more ends the list with the count of those not listed.
func (r *refusals) more(stderr io.Writer) {
	if r.n > listedRefusals {
		fmt.Fprintf(stderr, "and %d more refused\n", r.n-listedRefusals)
	}
}

// where says where the refused events are listed.
func (r *refusals) where() string {
	if r.n > listedRefusals {
		return fmt.Sprintf("(the first %d listed above)", listedRefusals)
	}
	return "(listed above)"
}

// note says, for an interruption's message, what became of the refused
// events: one for a single event, many for more.
func (r *refusals) note(one, many string) string {
	switch {
	case r.n == 1:
		return "; the 1 event refused " + r.where() + " " + one
	case r.n > 1:
		return fmt.Sprintf("; the %d events refused %s %s", r.n, r.where(), many)
	}
	return ""
}
