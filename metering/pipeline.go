// Package metering takes usage in: the decoders of every wire format
// (decode/), the JetStream consumer (nats.go) and file ingestion all hand
// their items to one Pipeline, which hands the valid events to the ledger
// engine that stores, rates and charges them in one transaction.
package metering

import (
	"context"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/ledger"
	"github.com/abacus-billing/abacus/metering/decode"
)

// Pipeline is the one path every usage event takes.
type Pipeline struct {
	Engine *ledger.Engine
}

// Ingest charges the decoded items' events and returns one result per
// item, in order: an item that failed to decode is rejected with its
// error, and the others get what the engine made of them. It returns
// once everything accepted has committed.
func (p *Pipeline) Ingest(ctx context.Context, items []decode.Item) ([]abacus.IngestResult, error) {
	return p.IngestAfter(ctx, items, nil, nil)
}

// IngestAfter is Ingest in turn, after the call that closes after; it
// closes queued once its events are queued (see ledger.Engine.IngestAfter).
func (p *Pipeline) IngestAfter(ctx context.Context, items []decode.Item, after <-chan struct{}, queued chan<- struct{}) ([]abacus.IngestResult, error) {
	results := make([]abacus.IngestResult, len(items))
	events := make([]abacus.UsageEvent, 0, len(items))
	at := make([]int, 0, len(items))
	for i, it := range items {
		if it.Err != nil {
			results[i] = abacus.IngestResult{ID: it.ID, Status: abacus.IngestRejected, Err: it.Err}
			continue
		}
		events = append(events, it.Event)
		at = append(at, i)
	}
	if len(events) == 0 && queued != nil {
		if after != nil {
			<-after
		}
		close(queued)
	}
	if len(events) > 0 {
		rs, err := p.Engine.IngestAfter(ctx, events, after, queued)
		if err != nil {
			return nil, err
		}
		for j, r := range rs {
			// The ledger names CSGHub's fields; the producer gets its own
			// format's names.
			if r.Err != nil {
				if f := items[at[j]].WireField(r.Err.Field); f != r.Err.Field {
					e := *r.Err
					e.Field = f
					r.Err = &e
				}
			}
			results[at[j]] = r
		}
	}
	return results, nil
}

// Summary counts results.
type Summary struct {
	Accepted, Duplicate, Rejected, Unpriced int
	Uncommitted                             int // accepted, of a licence that requires a subscription, without one
}

// Add counts results into s.
func (s *Summary) Add(rs []abacus.IngestResult) {
	for _, r := range rs {
		switch r.Status {
		case abacus.IngestAccepted:
			s.Accepted++
			if r.Unpriced {
				s.Unpriced++
			}
			if r.Uncommitted {
				s.Uncommitted++
			}
		case abacus.IngestDuplicate:
			s.Duplicate++
		default:
			s.Rejected++
		}
	}
}
