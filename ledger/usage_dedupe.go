package ledger

import (
	"slices"
	"strconv"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/rating"
)

// repeatOf answers an event whose id is taken already by prior: a
// duplicate if it tells what prior told, for the producer sent it again;
// otherwise an error naming the first fact that differs. An id names one
// event, so such an event would be dropped as a duplicate and its usage
// lost: a producer that reused an id, or got an account wrong and then
// right, learns it, and the event can be sent again under an id of its own.
// The facts are those that decide a charge: who, when, what and how much;
// of extra, what it makes of the components and, where licensed is given,
// of their quantities under the licences of their prices (extra.running,
// a stub licence's declared count).
func repeatOf(prior, ev *abacus.UsageEvent, licensed func(*abacus.UsageEvent) ([]int64, error)) error {
	field, was, now := differingFact(prior, ev, licensed)
	if field == "" {
		return nil
	}
	return abacus.Errorf(abacus.CodeConflict, "uuid", "event %q was sent already with %s %s, and this one says %s: an id names one event; send this one under an id of its own",
		ev.ID, field, was, now)
}

func differingFact(a, b *abacus.UsageEvent, licensed func(*abacus.UsageEvent) ([]int64, error)) (field, was, now string) {
	// Texts are quoted, numbers not, as the event spells them.
	for _, f := range []struct {
		name, was, now string
		number         bool
	}{
		{"user_uuid", string(a.Account), string(b.Account), false},
		{"created_at", a.Time.UTC().Format(time.RFC3339Nano), b.Time.UTC().Format(time.RFC3339Nano), false},
		{"scene", strconv.Itoa(a.Scene), strconv.Itoa(b.Scene), true},
		{"resource_id", a.ResourceID, b.ResourceID, false},
		{"customer_id", a.CustomerID, b.CustomerID, false},
		{"value_type", strconv.Itoa(a.ValueType), strconv.Itoa(b.ValueType), true},
		{"value", strconv.FormatInt(a.Value, 10), strconv.FormatInt(b.Value, 10), true},
	} {
		switch {
		case f.was == f.now:
		case f.number:
			return f.name, f.was, f.now
		default:
			return f.name, strconv.Quote(f.was), strconv.Quote(f.now)
		}
	}
	ca, errA := rating.Components(a)
	cb, errB := rating.Components(b)
	if (errA == nil) != (errB == nil) || errA == nil && !slices.Equal(ca, cb) || errA != nil && a.Extra != b.Extra {
		return "extra", quoteClipped(a.Extra), quoteClipped(b.Extra)
	}
	if licensed != nil && errA == nil {
		qa, errA := licensed(a)
		qb, errB := licensed(b)
		if (errA == nil) != (errB == nil) || errA == nil && !slices.Equal(qa, qb) {
			return "extra", quoteClipped(a.Extra), quoteClipped(b.Extra)
		}
	}
	return "", "", ""
}

// quoteClipped quotes s, cut to its first 200 bytes: extra may be long.
func quoteClipped(s string) string {
	if len(s) > 200 {
		return strconv.Quote(s[:200]) + "…"
	}
	return strconv.Quote(s)
}
