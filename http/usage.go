package http

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/gzipmembers"
	"github.com/abacus-billing/abacus/metering"
	wire "github.com/abacus-billing/abacus/metering/decode"
)

// maxUsageBody bounds a batch of usage events.
const maxUsageBody = 16 << 20

type ingestResultView struct {
	ID      string         `json:"uuid"`
	Status  string         `json:"status"`
	Charged *abacus.Amount `json:"charged,omitempty"`
	// Currency: with charged, the account's, which charged is in.
	Currency abacus.Currency `json:"currency,omitempty"`
	Unpriced bool            `json:"unpriced,omitempty"`
	// UnpricedReason: with unpriced, the price it lacks.
	UnpricedReason string `json:"unpriced_reason,omitempty"`
	// Uncommitted: a licence that requires a subscription, used without one.
	Uncommitted bool `json:"uncommitted,omitempty"`
	// DuplicateOf: dropped by the minute dedupe, for this event of the
	// same instance and minute.
	DuplicateOf string     `json:"duplicate_of,omitempty"`
	Error       *errorBody `json:"error,omitempty"`
}

type ingestView struct {
	Accepted  int                `json:"accepted"`
	Duplicate int                `json:"duplicate"`
	Rejected  int                `json:"rejected"`
	Unpriced  int                `json:"unpriced"`
	Results   []ingestResultView `json:"results"`
}

// handleIngest takes a batch of events (a JSON array of CSGHub events, or
// CloudEvents in any mode) and answers per item, after the batch has
// committed.
func (s *Server) handleIngest(w http.ResponseWriter, r *http.Request) error {
	if wire.BinaryHeader(r.Header) {
		if err := wire.BinaryContentType(r.Header); err != nil {
			return err
		}
	}
	dec, err := wire.ForHeaders(r.Header, true)
	if err != nil {
		return err
	}
	room, err := s.ingest.admit(w, r, maxUsageBody)
	if err != nil {
		return err
	}
	defer room.release()
	ctx, cancel := context.WithDeadline(r.Context(), room.waitUntil)
	defer cancel()
	body, err := readUsageBody(ctx, w, r, room)
	if err != nil {
		return err
	}
	items, err := dec(body, func(n int) error { return room.reserveEvents(ctx, n) })
	if err != nil {
		return unconfirmed(ctx, r, err)
	}
	results, err := (&metering.Pipeline{Engine: s.engine}).Ingest(ctx, items)
	if err != nil {
		return unconfirmed(ctx, r, err)
	}
	var sum metering.Summary
	sum.Add(results)
	v := ingestView{Accepted: sum.Accepted, Duplicate: sum.Duplicate, Rejected: sum.Rejected, Unpriced: sum.Unpriced, Results: make([]ingestResultView, len(results))}
	for i, res := range results {
		rv := ingestResultView{ID: res.ID, Status: string(res.Status), Unpriced: res.Unpriced, UnpricedReason: res.UnpricedReason,
			Uncommitted: res.Uncommitted, DuplicateOf: res.DuplicateOf}
		if res.Status == abacus.IngestAccepted {
			c := res.Charged
			rv.Charged, rv.Currency = &c, res.Currency
		}
		if res.Err != nil {
			rv.Error = &errorBody{Code: res.Err.Code, Message: res.Err.Error(), Field: res.Err.Field}
		}
		v.Results[i] = rv
	}
	return writeJSON(w, http.StatusOK, v)
}

// unconfirmed answers err, which ended a wait for room or for the engine
// (not a read of the body: one that fails cancels the request, and its
// error must still be answered). A wait that reached the request's
// deadline answers 503 while the client can still take it: the events may
// yet commit, and sent again they come back duplicate. A client gone gets
// nothing, as writeError does for a cancelled request.
func unconfirmed(ctx context.Context, r *http.Request, err error) error {
	if !errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return err
	}
	if gone := r.Context().Err(); gone != nil {
		return gone
	}
	return abacus.Errorf(abacus.CodeUnavailable, "", "the events were not confirmed within %s; sending them again is safe: their ids make those already stored come back duplicate",
		answerDeadline-answerMargin)
}

// readUsageBody reads a usage request's body, gzip-compressed or not, up to
// maxUsageBody bytes either way, within the room admit reserved: one sent
// without a Content-Length takes the rest of its room when it gets past
// what admit reserved, if there is room then. A compressed body is read
// whole first, so that a slow sender holds only what it sent, and then
// decompressed (see gunzip).
func readUsageBody(ctx context.Context, w http.ResponseWriter, r *http.Request, room *reservation) ([]byte, error) {
	// A header sent twice is one list (RFC 9110, section 5.3): two gzip
	// headers say the body was compressed twice, as "gzip, gzip" does, and
	// are refused alike rather than decoded once.
	coding := strings.ToLower(strings.TrimSpace(strings.Join(r.Header.Values("Content-Encoding"), ", ")))
	if coding != "" && coding != "identity" && coding != "gzip" && coding != "x-gzip" {
		return nil, abacus.Errorf(abacus.CodeUnsupportedMedia, "Content-Encoding", "%q is not supported: send the body as it is, or gzip-compressed", coding)
	}
	sent := http.MaxBytesReader(w, r.Body, maxUsageBody)
	var body []byte
	var err error
	if r.ContentLength >= 0 { // admit refused any longer
		body, err = readAtMost(sent, r.ContentLength)
	} else {
		body, err = io.ReadAll(&roomReader{r: sent, room: room})
	}
	if err != nil {
		return nil, usageReadError(err)
	}
	if coding == "gzip" || coding == "x-gzip" {
		return gunzip(ctx, r, body, room)
	}
	return body, nil
}

// gunzip decompresses a body read whole. It first waits for room for what
// the gzip trailer says the body holds (ISIZE: the last member's size,
// modulo 2³²), holding the compressed body's room, which it gives back
// once decompressed. A body that holds more than its trailer says (several
// members, or a trailer that lies) gives back that room and the bytes it
// decompressed, waits for room for the largest body, and starts again.
func gunzip(ctx context.Context, r *http.Request, packed []byte, room *reservation) ([]byte, error) {
	var want int64
	if len(packed) >= 18 { // a header of 10 bytes and a trailer of 8, at the least
		want = min(int64(binary.LittleEndian.Uint32(packed[len(packed)-4:])), maxUsageBody)
	}
	for {
		if err := room.reserveUnpacked(ctx, want); err != nil {
			return nil, unconfirmed(ctx, r, err)
		}
		in := bufio.NewReader(bytes.NewReader(packed))
		zr, err := gzip.NewReader(in)
		var body []byte
		switch {
		case err != nil:
		case want < maxUsageBody:
			body, err = readAtMost(gzipmembers.New(zr, in), want)
		default: // as it comes: what it takes may be far less than the largest
			body, err = io.ReadAll(io.LimitReader(gzipmembers.New(zr, in), maxUsageBody+1))
		}
		switch {
		case err != nil:
			return nil, abacus.Errorf(abacus.CodeInvalid, "body", "is not valid gzip: %v", err)
		case int64(len(body)) <= want:
			room.shrink(0)
			return body, nil
		case want == maxUsageBody:
			return nil, abacus.Errorf(abacus.CodeTooLarge, "body", "is larger than %d bytes uncompressed", maxUsageBody)
		}
		want = maxUsageBody
	}
}

// readAtMost reads r, of n bytes, to its end into a buffer of n+1 taken at
// once (so that it holds what its room says, where growing one as it
// filled would take up to twice that): it stops at n+1, which says r holds
// more than n.
func readAtMost(r io.Reader, n int64) ([]byte, error) {
	buf := make([]byte, 0, n+1)
	for len(buf) < cap(buf) {
		m, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
	return buf, nil
}

// roomReader reads a body of unknown length within its room, and takes
// the rest of the room at once when more comes than that: taking it bit by
// bit, two bodies could each hold half and wait for the other's.
type roomReader struct {
	r     io.Reader
	room  *reservation
	read  int64
	grown bool
}

func (rr *roomReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if !rr.grown && rr.read >= rr.room.n {
		// More room only if more comes: a body of just the size reserved
		// ends here (its last chunk may come a while after its bytes).
		var one [1]byte
		n, err := rr.r.Read(one[:])
		if n == 0 {
			return 0, err
		}
		if !rr.room.tryGrow(maxUsageBody - rr.room.n) {
			return 0, abacus.Errorf(abacus.CodeUnavailable, "body", "is longer than %d bytes and came without a Content-Length, and the endpoint has no room for more now; "+
				"send it again, or with its Content-Length, which waits for room", unknownBody)
		}
		rr.grown = true
		p[0] = one[0]
		rr.read++
		return 1, err
	}
	if !rr.grown { // past the room once grown, the body has all of it: it runs alone, up to maxUsageBody
		p = p[:min(int64(len(p)), rr.room.n-rr.read)]
	}
	n, err := rr.r.Read(p)
	rr.read += int64(n)
	return n, err
}

// usageReadError is decodeError for a usage body, whose read deadline is
// bodyDeadline.
func usageReadError(err error) error {
	var ae *abacus.Error
	if errors.As(err, &ae) {
		return ae
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return abacus.Errorf(abacus.CodeTimeout, "body", "did not arrive within %s", bodyDeadline)
	}
	return decodeError(err)
}

func (s *Server) handleEventVoid(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	// It takes no body: a field one carries ("reason") would not be kept,
	// so it is refused by name, as any unknown field is (QA).
	if err := decodeOptional(w, r, &struct{}{}); err != nil {
		return err
	}
	res, err := s.engine.VoidEvents(r.Context(), []string{id})
	if err != nil {
		return err
	}
	if res[0].Err != nil {
		return res[0].Err
	}
	b := res[0].Back
	return writeJSON(w, http.StatusOK, map[string]any{"uuid": res[0].ID, "status": abacus.EventVoided, "refunded": res[0].Refunded, "currency": res[0].Currency,
		"back": paidView{Cash: b.Cash, Bonus: b.Bonus, Voucher: b.Voucher}})
}

type storedEventView struct {
	Seq            int64              `json:"seq"`
	ID             string             `json:"uuid"`
	Account        abacus.AccountID   `json:"user_uuid"`
	Value          int64              `json:"value"`
	ValueType      int                `json:"value_type"`
	Scene          int                `json:"scene"`
	OpUID          string             `json:"op_uid"`
	ResourceID     string             `json:"resource_id"`
	ResourceName   string             `json:"resource_name"`
	CustomerID     string             `json:"customer_id"`
	CreatedAt      time.Time          `json:"created_at"`
	Extra          string             `json:"extra"`
	Status         abacus.EventStatus `json:"status"`
	UnpricedReason string             `json:"unpriced_reason,omitempty"` // with status unpriced: the price it lacks now
	Currency       abacus.Currency    `json:"currency"`
	Charged        abacus.Amount      `json:"charged"`
	Refunded       abacus.Amount      `json:"refunded"`
	Paid           paidView           `json:"paid"`
	ReceivedAt     time.Time          `json:"received_at"`
	Prices         []int64            `json:"prices,omitempty"` // the price versions that charged it
	Transaction    int64              `json:"transaction,omitempty"`
	Void           int64              `json:"void_transaction,omitempty"`
	Uncommitted    bool               `json:"uncommitted,omitempty"`
}

// paidView is what each bucket paid for an event, net of what came back
// to it (abacus.StoredEvent.Drawn), estimated for events voided before
// abacus kept that; or, for a void, what came back to each.
type paidView struct {
	Cash      abacus.Amount `json:"cash"`
	Bonus     abacus.Amount `json:"bonus"`
	Voucher   abacus.Amount `json:"voucher"`
	Estimated bool          `json:"estimated,omitempty"`
}

// handleEvents lists stored events: an account's, or every unpriced one.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) error {
	q := abacus.EventQuery{Limit: defaultPage}
	query := r.URL.Query()
	if a := query.Get("account"); a != "" {
		id, err := abacus.ParseAccountID(a)
		if err != nil {
			return err
		}
		q.Account = id
	}
	if k := caller(r); k.Role == abacus.RoleUser && q.Account == "" {
		q.Account = k.Account // a user key lists its own account's events
	}
	if err := mayRead(r, q.Account); err != nil {
		return err
	}
	if st := query.Get("status"); st != "" {
		switch abacus.EventStatus(st) {
		case abacus.EventCharged, abacus.EventUnpriced, abacus.EventVoided:
			q.Status = abacus.EventStatus(st)
		default:
			return abacus.Errorf(abacus.CodeInvalid, "status", "%q is not one of charged, unpriced, voided", st)
		}
	}
	switch u := query.Get("uncommitted"); u {
	case "", "false":
	case "true":
		q.Uncommitted = true
	default:
		return abacus.Errorf(abacus.CodeInvalid, "uncommitted", "%q is not true or false", u)
	}
	from, err := timeParam(query.Get("from"), "from")
	if err != nil {
		return err
	}
	to, err := timeParam(query.Get("to"), "to")
	if err != nil {
		return err
	}
	// [from, to) with from == to is empty, a question with an answer; from
	// after to is a mistake, such as the two swapped, that an empty list
	// would hide.
	if query.Get("from") != "" && query.Get("to") != "" && from.After(to) {
		return abacus.Errorf(abacus.CodeInvalid, "from", "%q is later than to %q", query.Get("from"), query.Get("to"))
	}
	if query.Get("from") != "" {
		q.From = eventBound(from)
	}
	if query.Get("to") != "" {
		q.To = eventBound(to)
	}
	if q.Limit, err = intParam(query.Get("limit"), "limit", defaultPage, 1, maxPage); err != nil {
		return err
	}
	after, err := intParam(query.Get("after"), "after", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	q.AfterSeq = int64(after)
	q.MaxBytes = pageBytes
	evs, err := s.store.Events(r.Context(), q)
	if err != nil {
		return err
	}
	// An unpriced event says which price it lacks (QA: the listing did
	// not say why).
	why, err := s.engine.WhyUnpriced(r.Context(), evs)
	if err != nil {
		return err
	}
	// The page ends once its text passes pageBytes, reasons included,
	// as the store ends it by the events' own (QA: pages of long unpriced
	// keys came to 1.6 MiB).
	size, cut := 0, false
	for i := range evs {
		size += evs[i].TextBytes() + abacus.JSONBytes(why[i])
		if size >= q.MaxBytes {
			cut, evs = true, evs[:i+1]
			break
		}
	}
	if err := fitRoom(w, r, size); err != nil {
		return err
	}
	page := struct {
		Events []storedEventView `json:"events"`
		Next   *int64            `json:"next_after"`
	}{Events: []storedEventView{}}
	for i, e := range evs {
		page.Events = append(page.Events, storedEventView{e.Seq, e.ID, e.Account, e.Value, e.ValueType, e.Scene, e.OpUID, e.ResourceID,
			e.ResourceName, e.CustomerID, e.Time, e.Extra, e.Status, why[i], e.Currency, e.Charged, e.Refunded,
			paidView{e.Drawn.Cash, e.Drawn.Bonus, e.Drawn.Voucher, e.DrawnEstimated}, e.ReceivedAt, e.PriceIDs, e.TxID, e.VoidTxID, e.Uncommitted})
	}
	if len(evs) == q.Limit || cut { // cut short by its bytes, it may have more
		page.Next = &evs[len(evs)-1].Seq
	}
	return writeJSON(w, http.StatusOK, page)
}

type deadLetterView struct {
	ID          int64               `json:"id"`
	Source      string              `json:"source"`
	Subject     string              `json:"subject"`
	Reason      string              `json:"reason"`
	Payload     *string             `json:"payload,omitempty"`        // as text, when it is UTF-8
	PayloadB64  []byte              `json:"payload_base64,omitempty"` // its exact bytes, when it is not
	Headers     map[string][]string `json:"headers,omitempty"`
	ReceivedAt  time.Time           `json:"received_at"`
	PublishedAt *time.Time          `json:"published_at,omitempty"` // to the dead letter subject; omitted until then
}

func (s *Server) handleDeadLetters(w http.ResponseWriter, r *http.Request) error {
	limit, err := intParam(r.URL.Query().Get("limit"), "limit", defaultPage, 1, maxPage)
	if err != nil {
		return err
	}
	after, err := intParam(r.URL.Query().Get("after"), "after", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	ds, err := s.store.DeadLetters(r.Context(), int64(after), limit)
	if err != nil {
		return err
	}
	size := 0
	for i := range ds {
		size += ds[i].Bytes()
	}
	if err := fitRoom(w, r, size); err != nil {
		return err
	}
	out := struct {
		DeadLetters []deadLetterView `json:"dead_letters"`
		Next        *int64           `json:"next_after"`
	}{DeadLetters: []deadLetterView{}}
	if len(ds) == limit || size >= abacus.MaxDeadLetterPage { // cut short by its bytes, it may have more
		out.Next = &ds[len(ds)-1].ID
	}
	for _, d := range ds {
		v := deadLetterView{ID: d.ID, Source: d.Source, Subject: d.Subject, Reason: d.Reason, Headers: d.Headers, ReceivedAt: d.ReceivedAt,
			PublishedAt: optTime(d.PublishedAt)}
		if utf8.Valid(d.Payload) {
			text := string(d.Payload)
			v.Payload = &text
		} else { // as text it would lose the bytes that are not, and could not be sent again as it came
			v.PayloadB64 = d.Payload
		}
		out.DeadLetters = append(out.DeadLetters, v)
	}
	return writeJSON(w, http.StatusOK, out)
}

func timeParam(v, field string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return t, abacus.Errorf(abacus.CodeInvalid, field, "%q is not an RFC 3339 time such as \"2026-11-01T00:00:00Z\"", v)
	}
	// Go drops fraction digits past the ninth: a time past the nanosecond
	// it reads is a nanosecond later, for eventBound to round up (QA).
	if _, frac, ok := strings.Cut(v, "."); ok {
		digits := frac[:strings.IndexFunc(frac+"Z", func(r rune) bool { return r < '0' || r > '9' })]
		if len(digits) > 9 && strings.Trim(digits[9:], "0") != "" {
			t = t.Add(time.Nanosecond)
		}
	}
	return t.UTC(), nil
}

// eventBound is a time given as a bound on events' times, as the store
// takes it: no event is older than 2000 (UsageEvent.Validate), and a time
// given must not read as the zero time, which stands for no bound. Events'
// times are whole microseconds, so a bound between two is the later of
// them, for from and to alike; the stores, which keep microseconds, had
// cut it to the earlier (QA: to=…00.0000001Z left out an event at …00).
func eventBound(t time.Time) time.Time {
	if floor := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC); t.Before(floor) {
		return floor
	}
	if c := t.Truncate(time.Microsecond); c.Before(t) {
		return c.Add(time.Microsecond)
	}
	return t
}

func intParam(v, field string, def, lo, hi int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, abacus.Errorf(abacus.CodeInvalid, field, "%q is not a whole number from %d to %d", v, lo, hi)
	}
	return n, nil
}
