package http_test

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/abacus-billing/abacus"
	abacushttp "github.com/abacus-billing/abacus/http"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/ledger"
)

func csghubEvent(id, acct string, value any, at string) string {
	return fmt.Sprintf(`{"uuid":%q,"user_uuid":%q,"value":%v,"value_type":0,"scene":11,"resource_id":"gpu","customer_id":"space-1","created_at":%q}`, id, acct, value, at)
}

func TestIngestEndpoint(t *testing.T) {
	testdb.Each(t, func(t *testing.T, open func(testing.TB) abacus.Store) {
		st := open(t)
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		if err := st.PriceBookAdd(context.Background(), []abacus.Price{{SKUType: 1, SKUKind: 1, ResourceID: "gpu", UnitType: "minute",
			Currency: "USD", Unit: 1, Model: abacus.ModelPerUnit, UnitPrice: decimal.RequireFromString("0.5"), ValidFrom: t0, CreatedAt: t0}}, nil); err != nil {
			t.Fatal(err)
		}
		f := newFixture(t, st)
		f.mustDo("service", "POST", "/api/v1/ledger/transactions", "fund", `{"type":"topup","account":"`+alice+`","amount":"100","currency":"USD"}`, 201)
		path := "/api/v1/accounting/metering/events"
		good := csghubEvent("11111111-0000-4000-8000-000000000001", alice, 4, "2026-11-02T10:00:00+05:45")
		body := "[" + strings.Join([]string{
			good,
			csghubEvent("11111111-0000-4000-8000-000000000002", alice, `"1.5"`, "2026-11-02T10:00:00Z"),
			csghubEvent("11111111-0000-4000-8000-000000000003", "not-a-uuid", 1, "2026-11-02T10:00:00Z"),
			csghubEvent("11111111-0000-4000-8000-000000000004", alice, 1, "yesterday"),
			`42`,
			good,
		}, ",") + "]"
		r := f.mustDo("service", "POST", path, "", body, 200)
		want := []struct{ status, field string }{{"accepted", ""}, {"rejected", "value"}, {"rejected", "user_uuid"}, {"rejected", "created_at"}, {"rejected", "[4]"}, {"duplicate", ""}}
		results := r.body["results"].([]any)
		for i, w := range want {
			got := results[i].(map[string]any)
			field := ""
			if e, ok := got["error"].(map[string]any); ok {
				field, _ = e["field"].(string)
			}
			if got["status"] != w.status || field != w.field {
				t.Errorf("item %d: %v, want %s naming %q", i, got, w.status, w.field)
			}
		}
		if results[0].(map[string]any)["charged"] != "2" || results[0].(map[string]any)["currency"] != "USD" {
			t.Fatalf("4 minutes at 0.5: %v", results[0])
		}
		// An event before any price is kept unpriced, and the answer says
		// which price it lacks.
		early := f.mustDo("service", "POST", path, "", "["+csghubEvent("11111111-0000-4000-8000-000000000005", bob, 1, "2026-10-31T23:59:00Z")+"]", 200)
		if res := early.body["results"].([]any)[0].(map[string]any); res["status"] != "accepted" || res["unpriced"] != true ||
			res["unpriced_reason"] != `no USD price for sku_type 1, sku_kind 1, resource_id "gpu", sku_unit_type "minute" valid at 2026-10-31T23:59:00Z` {
			t.Fatalf("unpriced: %s", early.raw)
		}
		if res := results[0].(map[string]any); res["unpriced_reason"] != nil {
			t.Fatalf("a priced event with a reason it is unpriced: %v", res)
		}
		// The listing says so too, from the book as stored now.
		whyListed := func() any {
			t.Helper()
			l := f.mustDo("admin", "GET", path+"?account="+bob, "", "", 200)
			return l.body["events"].([]any)[0].(map[string]any)["unpriced_reason"]
		}
		if why := whyListed(); why != early.body["results"].([]any)[0].(map[string]any)["unpriced_reason"] {
			t.Fatalf("listed unpriced for %v", why)
		}
		if err := st.PriceBookAdd(context.Background(), []abacus.Price{{SKUType: 1, SKUKind: 1, ResourceID: "gpu", UnitType: "minute",
			Currency: "USD", Unit: 1, Model: abacus.ModelPerUnit, UnitPrice: decimal.RequireFromString("0.5"), ValidFrom: t0.AddDate(0, -1, 0), CreatedAt: t0}}, nil); err != nil {
			t.Fatal(err)
		}
		if why := whyListed(); why != "the price book prices it now: abacus rerate charges it, if its account's floor allows" {
			t.Fatalf("listed, once a price exists: %v", why)
		}
		// The whole batch again: everything already seen is a duplicate, nothing is charged twice.
		again := f.mustDo("service", "POST", path, "", body, 200)
		if again.body["duplicate"].(float64) != 2 || again.body["accepted"].(float64) != 0 {
			t.Fatalf("replay: %s", again.raw)
		}
		acct := f.mustDo("alice", "GET", "/api/v1/accounts/"+alice, "", "", 200)
		if acct.body["total"].(map[string]any)["balance"] != "98" {
			t.Fatalf("balance: %s", acct.raw)
		}
		// CloudEvents batch.
		ce := `[{"specversion":"1.0","id":"ce-1","source":"gpu-cluster","type":"usage","subject":"` + alice + `","time":"2026-11-02T11:00:00Z",
			"data":{"value":2,"value_type":0,"scene":11,"resource_id":"gpu","customer_id":"space-1"}}]`
		req := f.doCT("service", "POST", path, "application/cloudevents-batch+json", ce)
		if req.status != 200 || req.body["accepted"].(float64) != 1 {
			t.Fatalf("cloudevents: %d %s", req.status, req.raw)
		}
		// A CloudEvent in binary mode, as the SDKs send it: attributes in
		// ce-* headers (percent-encoded), the usage as the body.
		h := http.Header{}
		h.Set("Content-Type", "application/json")
		h.Set("ce-specversion", "1.0")
		h.Set("ce-id", "ce%2D2")
		h.Set("ce-source", "gpu-cluster")
		h.Set("ce-type", "usage")
		h.Set("ce-subject", alice)
		h.Set("ce-time", "2026-11-02T11:05:00Z")
		data := `{"value":4,"value_type":0,"scene":11,"resource_id":"gpu","customer_id":"space-1"}`
		bin := f.doHeaders("service", "POST", path, h, data)
		if res := bin.body["results"].([]any)[0].(map[string]any); bin.status != 200 || res["status"] != "accepted" || res["uuid"] != "ce-2" || res["charged"] != "2" {
			t.Fatalf("binary mode: %d %s", bin.status, bin.raw)
		}
		if again := f.doHeaders("service", "POST", path, h, data); again.body["duplicate"].(float64) != 1 {
			t.Fatalf("binary mode again: %s", again.raw)
		}
		h.Del("ce-source")
		h.Set("ce-id", "ce-3")
		if bad := f.doHeaders("service", "POST", path, h, data); bad.status != 200 || bad.body["rejected"].(float64) != 1 ||
			bad.body["results"].([]any)[0].(map[string]any)["error"].(map[string]any)["field"] != "ce-source" {
			t.Fatalf("binary mode without ce-source: %d %s", bad.status, bad.raw)
		}
		// Over HTTP a body abacus does not read is refused whole, as in the
		// other modes, not rejected as an item in a 200.
		h.Set("ce-source", "gpu-cluster")
		for ct, want := range map[string]int{"text/plain": 415, "application/xml": 415, "application/json; charset=latin1": 415, "application/": 400} {
			h.Set("Content-Type", ct)
			if r := f.doHeaders("service", "POST", path, h, data); r.status != want || r.body["field"] != "Content-Type" {
				t.Fatalf("binary mode with content type %s: %d %s, want %d", ct, r.status, r.raw, want)
			}
		}
		h.Set("Content-Type", "application/json")
		// A media type abacus does not take is unsupported; a header that
		// is not a media type is bad input.
		for ct, want := range map[string]int{"text/plain": 415, "application/json; charset=latin1": 415, "application/": 400} {
			if r := f.doCT("service", "POST", path, ct, "x"); r.status != want || r.body["field"] != "Content-Type" {
				t.Fatalf("content type %s: %d %s, want %d", ct, r.status, r.raw, want)
			}
		}
		big := "[" + strings.Repeat(good+",", 17<<20/len(good)) + good + "]"
		if r := f.do("service", "POST", path, "", big); r.status != 413 {
			t.Fatalf("a body over the limit: %d", r.status)
		}
		// Listing and voiding.
		list := f.mustDo("alice", "GET", "/api/v1/accounting/metering/events?account="+alice, "", "", 200)
		if n := len(list.body["events"].([]any)); n != 3 {
			t.Fatalf("alice's events: %s", list.raw)
		}
		paid := map[any]string{}
		for _, e := range list.body["events"].([]any) {
			paid[e.(map[string]any)["uuid"]] = fmt.Sprint(e.(map[string]any)["paid"])
		}
		for _, e := range list.body["events"].([]any) {
			if ps, ok := e.(map[string]any)["prices"].([]any); !ok || len(ps) != 1 {
				t.Fatalf("the versions that charged an event: %v", e)
			}
		}
		if got := paid["11111111-0000-4000-8000-000000000001"]; got != "map[bonus:0 cash:2 voucher:0]" {
			t.Fatalf("what each bucket paid for the first event: %s", got)
		}
		f.mustDo("bob", "GET", "/api/v1/accounting/metering/events?account="+alice, "", "", 403)
		// No licence was used without a subscription; the flag is true or false.
		if l := f.mustDo("alice", "GET", "/api/v1/accounting/metering/events?uncommitted=true&account="+alice, "", "", 200); len(l.body["events"].([]any)) != 0 {
			t.Fatalf("uncommitted: %s", l.raw)
		}
		if r := f.do("alice", "GET", "/api/v1/accounting/metering/events?uncommitted=yes&account="+alice, "", ""); r.status != 400 || r.body["field"] != "uncommitted" {
			t.Fatalf("uncommitted=yes: %d %s", r.status, r.raw)
		}
		// A bound at the zero time is a bound, not none.
		// [from, to): empty when from == to, and from after to is refused,
		// also when both are before any event.
		for q, want := range map[string]int{"&to=0001-01-01T00:00:00Z": 0, "&from=0001-01-01T00:00:00Z": 3,
			"&from=2026-11-02T04:15:00Z&to=2026-11-02T04:15:00Z": 0, "&from=2026-11-02T04:15:00Z&to=2026-11-02T04:15:00.000001Z": 1,
			// Bounds finer than the microseconds events keep (QA: they were cut).
			"&from=2026-11-02T04:15:00Z&to=2026-11-02T04:15:00.0000001Z": 1, "&from=2026-11-02T04:15:00.0000001Z&to=2026-11-02T04:15:00.000001Z": 0,
			"&from=2026-11-02T04:15:00Z&to=2026-11-02T04:15:00.0000000001Z": 1, "&from=2026-11-02T04:15:00.0000000001Z&to=2026-11-02T04:15:00.000001Z": 0} {
			page := f.mustDo("alice", "GET", "/api/v1/accounting/metering/events?account="+alice+q, "", "", 200)
			if n := len(page.body["events"].([]any)); n != want {
				t.Fatalf("alice's events%s: %s", q, page.raw)
			}
		}
		for _, q := range []string{"&from=2026-11-03T00:00:00Z&to=2026-11-02T00:00:00Z", "&from=1999-01-01T00:00:00Z&to=1998-01-01T00:00:00Z",
			"&from=2026-11-02T04:15:00.000001Z&to=2026-11-02T04:15:00Z"} {
			if r := f.mustDo("alice", "GET", "/api/v1/accounting/metering/events?account="+alice+q, "", "", 400); r.body["field"] != "from" {
				t.Fatalf("alice's events%s: %s", q, r.raw)
			}
		}
		// A parameter the listing does not take, or one given twice, is
		// refused naming it: ignored, acount= had listed every account's.
		for q, field := range map[string]string{"&acount=x": "acount", "&from=2026-11-02T00:00:00Z&from=2026-11-01T00:00:00Z": "from",
			"&Limit=1": "Limit", "&x=%zz": "query", "&=1": "query"} {
			if r := f.mustDo("alice", "GET", "/api/v1/accounting/metering/events?account="+alice+q, "", "", 400); r.body["field"] != field {
				t.Fatalf("alice's events%s: %s", q, r.raw)
			}
		}
		if r := f.mustDo("alice", "GET", "/api/v1/accounts/"+alice+"?expand=1", "", "", 400); r.body["field"] != "expand" {
			t.Fatalf("a parameter where none is taken: %s", r.raw)
		}
		// The void takes no body: a field it would not keep is refused, and
		// nothing is voided.
		if r := f.mustDo("service", "POST", path+"/11111111-0000-4000-8000-000000000001/void", "", `{"reason":"mistake"}`, 400); r.body["field"] != "reason" {
			t.Fatalf("void with a reason: %s", r.raw)
		}
		if v := f.mustDo("service", "POST", path+"/11111111-0000-4000-8000-000000000001/void", "", "{}", 200); v.body["refunded"] != "2" || v.body["currency"] != "USD" ||
			fmt.Sprint(v.body["back"]) != "map[bonus:0 cash:2 voucher:0]" {
			t.Fatalf("void: %s", v.raw)
		}
		f.mustDo("service", "POST", path+"/11111111-0000-4000-8000-000000000001/void", "", "", 409)
		voided := f.mustDo("alice", "GET", "/api/v1/accounting/metering/events?status=voided&account="+alice, "", "", 200)
		if evs := voided.body["events"].([]any); len(evs) != 1 || evs[0].(map[string]any)["refunded"] != "2" || evs[0].(map[string]any)["charged"] != "2" ||
			fmt.Sprint(evs[0].(map[string]any)["paid"]) != "map[bonus:0 cash:0 voucher:0]" {
			t.Fatalf("voided events: %s", voided.raw)
		}
		f.mustDo("service", "POST", path+"/nope/void", "", "", 404)
		// An id sent in upper case is stored, and its void answered, in
		// lower case, as the listing and a second void name it.
		f.mustDo("service", "POST", path, "", "["+csghubEvent("AAAAAAAA-0000-4000-8000-000000000001", alice, 1, "2026-11-02T10:00:00Z")+"]", 200)
		if v := f.mustDo("service", "POST", path+"/AAAAAAAA-0000-4000-8000-000000000001/void", "", "", 200); v.body["uuid"] != "aaaaaaaa-0000-4000-8000-000000000001" {
			t.Fatalf("void of an id sent in upper case: %s", v.raw)
		}
	})
}

// TestIngestDeclaredTooLarge: a body declared over the limit is refused
// before a byte of it is read, and so before it takes any room.
func TestIngestDeclaredTooLarge(t *testing.T) {
	f := newFixture(t, testdb.SQLite(t))
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "POST /api/v1/accounting/metering/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n[", f.tokens["service"], 17<<20)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 413 {
		t.Fatalf("status %d", res.StatusCode)
	}
}

// TestEventOutsideTheClocksBounds: an event dated past abacus's clock
// (by more than the default five minutes), or before it by more than a
// configured horizon, is rejected, naming the time field as its own
// format spells it, and creates no account.
func TestEventOutsideTheClocksBounds(t *testing.T) {
	for _, c := range []struct {
		what string
		at   time.Time
		cfg  ledger.UsageConfig
	}{
		{"ahead", time.Now().Add(time.Hour), ledger.UsageConfig{}},
		{"too late", time.Now().AddDate(0, 0, -8), ledger.UsageConfig{MaxAge: 7 * 24 * time.Hour}},
	} {
		t.Run(c.what, func(t *testing.T) {
			f := newFixtureEngine(t, testdb.SQLite(t), abacushttp.Config{}, ledger.Config{Usage: c.cfg})
			path := "/api/v1/accounting/metering/events"
			at := c.at.UTC().Format(time.RFC3339)
			stranger := "dddddddd-0000-4000-8000-000000000004"
			check := func(what string, r response, field string) {
				t.Helper()
				res := r.body["results"].([]any)[0].(map[string]any)
				if e, _ := res["error"].(map[string]any); r.status != 200 || res["status"] != "rejected" || e["field"] != field || e["code"] != "invalid" {
					t.Fatalf("%s: %d %s, want rejected naming %s", what, r.status, r.raw, field)
				}
			}
			check("CSGHub", f.mustDo("service", "POST", path, "", "["+csghubEvent("11111111-0000-4000-8000-00000000000a", stranger, 1, at)+"]", 200), "created_at")
			ce := `[{"specversion":"1.0","id":"ce-event","source":"gpu-cluster","type":"usage","subject":"` + stranger + `","time":"` + at + `",
		"data":{"value":2,"value_type":0,"scene":11,"resource_id":"gpu","customer_id":"space-1"}}]`
			check("CloudEvents", f.doCT("service", "POST", path, "application/cloudevents-batch+json", ce), "time")
			h := http.Header{}
			for k, v := range map[string]string{"Content-Type": "application/json", "ce-specversion": "1.0", "ce-id": "ce-event-2", "ce-source": "gpu-cluster",
				"ce-type": "usage", "ce-subject": stranger, "ce-time": at} {
				h.Set(k, v)
			}
			check("binary CloudEvent", f.doHeaders("service", "POST", path, h, `{"value":4,"value_type":0,"scene":11,"resource_id":"gpu","customer_id":"space-1"}`), "ce-time")
			f.mustDo("admin", "GET", "/api/v1/accounts/"+stranger, "", "", 404)
		})
	}
}

// TestIngestBodyEncodings: a gzip-compressed body is read as the same
// events, within the same limit uncompressed; a body of more items than
// allowed is too large however small; another coding is refused, naming
// Content-Encoding.
func TestIngestBodyEncodings(t *testing.T) {
	f := newFixture(t, testdb.SQLite(t))
	path := "/api/v1/accounting/metering/events"
	gz := func(s string) string {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write([]byte(s))
		zw.Close()
		return b.String()
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Encoding", "gzip")
	body := "[" + csghubEvent("gz-1", alice, 1, "2026-11-02T10:00:00Z") + "]"
	if r := f.doHeaders("service", "POST", path, h, gz(body)); r.status != 200 || r.body["accepted"].(float64) != 1 {
		t.Fatalf("gzip: %d %s", r.status, r.raw)
	}
	if r := f.doHeaders("service", "POST", path, h, gz(body)); r.status != 200 || r.body["duplicate"].(float64) != 1 {
		t.Fatalf("gzip again: %d %s", r.status, r.raw)
	}
	// Several members, as concatenated gzip files are: the trailer gives the
	// last one's size only.
	members := gz("["+csghubEvent("gz-2", alice, 1, "2026-11-02T10:01:00Z")+",") + gz(strings.Repeat(" ", 100_000)+csghubEvent("gz-3", alice, 1, "2026-11-02T10:02:00Z")+"]")
	if r := f.doHeaders("service", "POST", path, h, members); r.status != 200 || r.body["accepted"].(float64) != 2 {
		t.Fatalf("gzip of two members: %d %s", r.status, r.raw)
	}
	// A trailer that says less than the body holds: decompressed whole, it
	// fails gzip's own check.
	lying := []byte(gz(body))
	copy(lying[len(lying)-4:], []byte{1, 0, 0, 0})
	if r := f.doHeaders("service", "POST", path, h, string(lying)); r.status != 400 || r.body["field"] != "body" || !strings.Contains(r.raw, "not valid gzip") {
		t.Fatalf("a gzip trailer that lies: %d %s", r.status, r.raw)
	}
	// Bytes after the gzip data that are no gzip are said to be so, short
	// or long; a member cut short is said to end early (QA: five stray
	// bytes read as "unexpected EOF", a body cut short).
	for _, tail := range []string{"junk!", "x", strings.Repeat("junk", 10), "\x1f\x8bxxxxxxxxxxxx"} {
		r := f.doHeaders("service", "POST", path, h, gz(body)+tail)
		if r.status != 400 || !strings.Contains(r.raw, "after its gzip data come bytes that are not gzip") {
			t.Fatalf("gzip and %q: %d %s", tail, r.status, r.raw)
		}
	}
	cut := gz(body)
	if r := f.doHeaders("service", "POST", path, h, cut+cut[:len(cut)/2]); r.status != 400 || !strings.Contains(r.raw, "unexpected EOF") {
		t.Fatalf("a second member cut short: %d %s", r.status, r.raw)
	}
	if r := f.doHeaders("service", "POST", path, h, gz("["+strings.Repeat(" ", 17<<20)+"]")); r.status != 413 {
		t.Fatalf("gzip of 17 MiB: %d %s", r.status, r.raw)
	}
	if r := f.doHeaders("service", "POST", path, h, body); r.status != 400 || r.body["field"] != "body" {
		t.Fatalf("not gzip: %d %s", r.status, r.raw)
	}
	h.Set("Content-Encoding", "br")
	if r := f.doHeaders("service", "POST", path, h, body); r.status != 415 || r.body["field"] != "Content-Encoding" {
		t.Fatalf("br: %d %s", r.status, r.raw)
	}
	// Compressed twice, in one header or two, is not a coding abacus reads;
	// two headers are not taken for one gzip.
	twice := "[" + csghubEvent("gz-twice", alice, 1, "2026-11-02T10:00:00Z") + "]"
	for _, codings := range [][]string{{"gzip, gzip"}, {"gzip", "gzip"}} {
		h["Content-Encoding"] = codings
		for _, sent := range []string{gz(twice), gz(gz(twice))} {
			if r := f.doHeaders("service", "POST", path, h, sent); r.status != 415 || r.body["field"] != "Content-Encoding" {
				t.Fatalf("Content-Encoding %q: %d %s", codings, r.status, r.raw)
			}
		}
	}
	if page := f.mustDo("admin", "GET", path+"?account="+alice, "", "", 200); strings.Contains(page.raw, "gz-twice") {
		t.Fatalf("an event sent with two codings was stored: %s", page.raw)
	}
	h.Del("Content-Encoding")
	if r := f.doHeaders("service", "POST", path, h, "["+strings.Repeat("1,", 10_000)+"1]"); r.status != 413 || r.body["field"] != "body" {
		t.Fatalf("10,001 items: %d %s", r.status, r.raw)
	}
}

// TestDeadLettersKeepTheirBytes: a dead letter's payload comes back as
// text when it is UTF-8, and otherwise as its exact bytes in base64, so it
// can be sent again as it came. published_at says when it was published,
// and is left out until it is.
func TestDeadLettersKeepTheirBytes(t *testing.T) {
	st := testdb.SQLite(t)
	f := newFixture(t, st)
	for i, payload := range []string{`{"uuid":1}`, "bad\xff\xfe"} {
		if _, err := st.DeadLetterAdd(context.Background(), abacus.DeadLetter{Key: fmt.Sprint(i), Source: "nats", Subject: "accounting.metering.duration",
			Reason: "body: is not valid JSON", Payload: []byte(payload), ReceivedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	published := time.Date(2026, 11, 1, 0, 0, 1, 0, time.UTC)
	if err := st.DeadLetterPublished(context.Background(), "0", published); err != nil {
		t.Fatal(err)
	}
	r := f.mustDo("service", "GET", "/api/v1/accounting/metering/dead-letters", "", "", 200)
	ds := r.body["dead_letters"].([]any)
	if len(ds) != 2 {
		t.Fatalf("%s", r.raw)
	}
	text, bytes := ds[0].(map[string]any), ds[1].(map[string]any)
	if text["published_at"] != "2026-11-01T00:00:01Z" {
		t.Fatalf("a published dead letter: published_at %v, want 2026-11-01T00:00:01Z", text["published_at"])
	}
	if _, ok := bytes["published_at"]; ok {
		t.Fatalf("a dead letter not published: %v, want no published_at", bytes)
	}
	if text["payload"] != `{"uuid":1}` || text["payload_base64"] != nil {
		t.Fatalf("a UTF-8 payload: %v", text)
	}
	if bytes["payload"] != nil || bytes["payload_base64"] != base64.StdEncoding.EncodeToString([]byte("bad\xff\xfe")) {
		t.Fatalf("a payload that is not UTF-8: %v", bytes)
	}
	if r.body["next_after"] != nil {
		t.Fatalf("a page that is not full: next_after %v, want null", r.body["next_after"])
	}
	// Page by page with next_after, as the events listing.
	r = f.mustDo("service", "GET", "/api/v1/accounting/metering/dead-letters?limit=1", "", "", 200)
	next := r.body["next_after"]
	if ds := r.body["dead_letters"].([]any); len(ds) != 1 || next != ds[0].(map[string]any)["id"] {
		t.Fatalf("page 1: %s", r.raw)
	}
	r = f.mustDo("service", "GET", fmt.Sprintf("/api/v1/accounting/metering/dead-letters?limit=1&after=%v", next), "", "", 200)
	if ds := r.body["dead_letters"].([]any); len(ds) != 1 || ds[0].(map[string]any)["payload_base64"] == nil {
		t.Fatalf("page 2: %s", r.raw)
	}
}

// TestIngestRefusesIDsAndTimesAsSent: an id a void's URL cannot name (.,
// .. or /) or with a character that shows nothing or looks like a space is
// rejected naming the id field of its format, a time sent as the zero
// time is out of range, not missing, and a body's created_at that differs
// from ce-time says so in the header's name; nothing is stored.
func TestIngestRefusesIDsAndTimesAsSent(t *testing.T) {
	f := newFixture(t, testdb.SQLite(t))
	path := "/api/v1/accounting/metering/events"
	at := "2026-11-02T10:00:00Z"
	type want struct{ field, says string }
	check := func(what string, r response, wants ...want) {
		t.Helper()
		results, _ := r.body["results"].([]any)
		if r.status != 200 || len(results) != len(wants) {
			t.Fatalf("%s: %d %s", what, r.status, r.raw)
		}
		for i, w := range wants {
			res := results[i].(map[string]any)
			e, _ := res["error"].(map[string]any)
			if msg, _ := e["message"].(string); res["status"] != "rejected" || e["field"] != w.field || !strings.Contains(msg, w.says) {
				t.Errorf("%s item %d: %v, want rejected naming %s saying %q", what, i, res, w.field, w.says)
			}
		}
	}
	csg := "[" + strings.Join([]string{
		csghubEvent(".", alice, 1, at), csghubEvent("..", alice, 1, at), `{"uuid":"a\u00a0b","user_uuid":"` + alice + `","value":1,"value_type":0,"scene":11,"created_at":"` + at + `"}`,
		csghubEvent("zero-time", alice, 1, "0001-01-01T00:00:00Z"), csghubEvent("/", alice, 1, at),
	}, ",") + "]"
	outOfRange := "0001-01-01T00:00:00Z is not between the years 2000 and 9999"
	check("CSGHub", f.mustDo("service", "POST", path, "", csg, 200),
		want{"uuid", "voided"}, want{"uuid", "voided"}, want{"uuid", "printable"}, want{"created_at", outOfRange}, want{"uuid", "trailing slash"})
	ce := func(id, time string) string {
		return `{"specversion":"1.0","id":"` + id + `","source":"gpu-cluster","type":"usage","subject":"` + alice + `","time":"` + time + `",
			"data":{"value":2,"value_type":0,"scene":11,"resource_id":"gpu","customer_id":"space-1"}}`
	}
	check("CloudEvents", f.doCT("service", "POST", path, "application/cloudevents-batch+json", "["+ce("..", at)+","+ce("ce-zero", "0001-01-01T00:00:00Z")+"]"),
		want{"id", "voided"}, want{"time", outOfRange})
	h := http.Header{}
	for k, v := range map[string]string{"Content-Type": "application/json", "ce-specversion": "1.0", "ce-id": "%2E", "ce-source": "gpu-cluster",
		"ce-type": "usage", "ce-subject": alice, "ce-time": at} {
		h.Set(k, v)
	}
	data := `{"value":4,"value_type":0,"scene":11,"resource_id":"gpu","customer_id":"space-1"}`
	check("binary CloudEvent id", f.doHeaders("service", "POST", path, h, data), want{"ce-id", "voided"})
	h.Set("ce-id", "ce-zero-2")
	h.Set("ce-time", "0001-01-01T00:00:00Z")
	check("binary CloudEvent time", f.doHeaders("service", "POST", path, h, data), want{"ce-time", outOfRange})
	h.Set("ce-id", "ce-late")
	h.Set("ce-time", at)
	late := strings.Replace(data, `{`, `{"created_at":"2026-11-02T11:00:00Z",`, 1)
	check("binary CloudEvent, created_at", f.doHeaders("service", "POST", path, h, late), want{"created_at", `does not match ce-time "` + at + `"`})
	if page := f.mustDo("admin", "GET", path+"?account="+alice, "", "", 200); len(page.body["events"].([]any)) != 0 {
		t.Fatalf("rejected events were stored: %s", page.raw)
	}
}

// TestIngestRefusesRepeatedHeaders: a CloudEvent in binary mode whose
// ce-subject, ce-id or ce-time comes twice is rejected naming the header,
// not charged to the account of its first value; a Content-Type sent twice
// is refused whole with 400, as one that is not a media type is. Nothing
// is stored.
func TestIngestRefusesRepeatedHeaders(t *testing.T) {
	f := newFixture(t, testdb.SQLite(t))
	path := "/api/v1/accounting/metering/events"
	data := `{"value":5,"value_type":0,"scene":11,"resource_id":"12"}`
	binary := func(id string) http.Header {
		h := http.Header{}
		for k, v := range map[string]string{"Content-Type": "application/json", "ce-specversion": "1.0", "ce-id": id, "ce-source": "/q",
			"ce-type": "t", "ce-subject": alice, "ce-time": "2026-11-02T10:00:00Z"} {
			h.Set(k, v)
		}
		return h
	}
	for _, c := range []struct{ header, second, id string }{
		{"ce-subject", bob, "bin-dupsub"},
		{"ce-id", "bin-dupid-2", ""}, // answered by the first
		{"ce-time", "2026-11-02T11:00:00Z", "bin-duptime"},
	} {
		id := cmp.Or(c.id, "bin-dupid-1")
		h := binary(id)
		h.Add(c.header, c.second)
		r := f.doHeaders("service", "POST", path, h, data)
		results, _ := r.body["results"].([]any)
		if r.status != 200 || len(results) != 1 || r.body["rejected"] != 1.0 {
			t.Fatalf("two %s: %d %s", c.header, r.status, r.raw)
		}
		res := results[0].(map[string]any)
		if e, _ := res["error"].(map[string]any); res["status"] != "rejected" || res["uuid"] != id || e["field"] != c.header || e["code"] != "invalid" ||
			!strings.Contains(e["message"].(string), "appears more than once") {
			t.Errorf("two %s: %v, want rejected naming %s", c.header, res, c.header)
		}
	}
	h := binary("bin-dupct")
	h.Add("Content-Type", "application/json")
	if r := f.doHeaders("service", "POST", path, h, data); r.status != 400 || r.body["field"] != "Content-Type" {
		t.Fatalf("binary mode, two content types: %d %s", r.status, r.raw)
	}
	two := http.Header{"Content-Type": {"application/json", "application/cloudevents-batch+json"}}
	if r := f.doHeaders("service", "POST", path, two, "["+csghubEvent("dupct", alice, 1, "2026-11-02T10:00:00Z")+"]"); r.status != 400 || r.body["field"] != "Content-Type" {
		t.Fatalf("two content types: %d %s", r.status, r.raw)
	}
	for _, acct := range []string{alice, bob} {
		if page := f.mustDo("admin", "GET", path+"?account="+acct, "", "", 200); len(page.body["events"].([]any)) != 0 {
			t.Fatalf("%s: rejected events were stored: %s", acct, page.raw)
		}
	}
}

// TestVoidIDsWithSlashes: an id with a slash in it, but not the one
// slash Validate refuses, reaches its void's route escaped.
func TestVoidIDsWithSlashes(t *testing.T) {
	f := newFixture(t, testdb.SQLite(t))
	path := "/api/v1/accounting/metering/events"
	ids := []string{"//", "a/", "/a", "/./", "a/../b"}
	var evs []string
	for _, id := range ids {
		evs = append(evs, csghubEvent(id, alice, 1, "2026-11-02T10:00:00Z"))
	}
	if r := f.mustDo("service", "POST", path, "", "["+strings.Join(evs, ",")+"]", 200); r.body["accepted"] != float64(len(ids)) {
		t.Fatalf("ingest: %s", r.raw)
	}
	for _, id := range ids {
		if v := f.mustDo("service", "POST", path+"/"+url.PathEscape(id)+"/void", "", "", 200); v.body["uuid"] != id || v.body["status"] != "voided" {
			t.Errorf("void of %q: %s", id, v.raw)
		}
	}
}

// TestEventsPageCountsItsReasons: a page of unpriced events ends once its
// text passes 1 MiB with the reasons they are unpriced counted, as it ends
// by the events' own (QA: long unpriced keys made pages of 1.6 MiB).
func TestEventsPageCountsItsReasons(t *testing.T) {
	st := testdb.SQLite(t)
	f := newFixture(t, st)
	resource := strings.Repeat("r", abacus.MaxEventText)
	var items []string
	for i := range 700 {
		items = append(items, fmt.Sprintf(`{"uuid":"long-%d","user_uuid":%q,"value":1,"value_type":0,"scene":11,"resource_id":%q,"customer_id":"s","created_at":"2026-11-02T10:00:00Z"}`, i, alice, resource))
	}
	path := "/api/v1/accounting/metering/events"
	if r := f.mustDo("service", "POST", path, "", "["+strings.Join(items, ",")+"]", 200); r.body["unpriced"].(float64) != 700 {
		t.Fatalf("%.300s", r.raw)
	}
	page := f.mustDo("admin", "GET", path+"?account="+alice+"&limit=1000", "", "", 200)
	n := len(page.body["events"].([]any))
	// Each event's text and reason are ~2 KiB: a page of 1 MiB holds ~500.
	if n >= 700 || page.body["next_after"] == nil || len(page.raw) > 1<<20+8<<10 {
		t.Fatalf("%d events, next_after %v, %d bytes", n, page.body["next_after"], len(page.raw))
	}
}

// TestIngestRejectionsNameTheirItem: an item rejected for its id is
// answered by it, so that its producer can match the answer: an id given
// twice by the first, one over 255 bytes by its first bytes and "…" (the
// answer stays bounded), and the error names the id's field. QA had such
// items answered "uuid": "".
func TestIngestRejectionsNameTheirItem(t *testing.T) {
	f := newFixture(t, testdb.SQLite(t))
	path := "/api/v1/accounting/metering/events"
	long := strings.Repeat("L", 100_000)
	ce := `{"specversion":"1.0","id":"ce-twice-1","id":"ce-twice-2","source":"/q","type":"t","subject":%q,"time":"2026-11-02T10:00:00Z","data":{"value":1,"value_type":0,"scene":11,"resource_id":"gpu"}}`
	body := "[" + strings.Join([]string{
		csghubEvent(long, alice, 1, "2026-11-02T10:00:00Z"),
		strings.Replace(csghubEvent("twice-1", alice, 1, "2026-11-02T10:00:00Z"), `"value":1`, `"value":1,"uuid":"twice-2"`, 1),
		fmt.Sprintf(ce, alice),
		strings.Replace(fmt.Sprintf(ce, alice), `"id":"ce-twice-2",`, "", 1),
	}, ",") + "]"
	r := f.mustDo("service", "POST", path, "", body, 200)
	results, _ := r.body["results"].([]any)
	if len(results) != 4 || r.body["rejected"] != 3.0 || r.body["accepted"] != 1.0 {
		t.Fatalf("%.2000s", r.raw)
	}
	want := []struct{ id, field string }{{strings.Repeat("L", 252) + "…", "uuid"}, {"twice-1", "uuid"}, {"ce-twice-1", "id"}, {"ce-twice-1", ""}}
	for i, w := range want {
		res := results[i].(map[string]any)
		e, _ := res["error"].(map[string]any)
		if res["uuid"] != w.id || w.field != "" && (e["field"] != w.field || res["status"] != "rejected") {
			t.Errorf("item %d: %.400v, want %q rejected naming %s", i, res, w.id, w.field)
		}
	}
	if len(r.raw) > 2000 {
		t.Errorf("the answer is %d bytes: the long id must not come back whole", len(r.raw))
	}
	if page := f.mustDo("admin", "GET", path+"?account="+alice, "", "", 200); len(page.body["events"].([]any)) != 1 {
		t.Fatalf("stored: %.1000s", page.raw)
	}
}
