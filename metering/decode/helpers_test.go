package decode_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/metering/decode"
)

const (
	acct  = "11111111-2222-4333-8444-555555555555"
	acct2 = "11111111-2222-4333-8444-666666666666"
)

// object builds a JSON object from defaults and modifications: "key=raw"
// sets key to the raw JSON text raw (replacing it in place or appending
// it), "-key" removes key.
func object(defaults [][2]string, mods ...string) string {
	fields := append([][2]string(nil), defaults...)
	for _, m := range mods {
		if strings.HasPrefix(m, "-") {
			key := m[1:]
			for i := range fields {
				if fields[i][0] == key {
					fields = append(fields[:i], fields[i+1:]...)
					break
				}
			}
			continue
		}
		key, raw, ok := strings.Cut(m, "=")
		if !ok {
			panic("bad modification " + m)
		}
		done := false
		for i := range fields {
			if fields[i][0] == key {
				fields[i][1] = raw
				done = true
				break
			}
		}
		if !done {
			fields = append(fields, [2]string{key, raw})
		}
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + f[0] + `":` + f[1])
	}
	b.WriteByte('}')
	return b.String()
}

// csghub is a CSGHub metering event with id uuid, modified by mods.
func csghub(uuid string, mods ...string) string {
	return object([][2]string{
		{"uuid", `"` + uuid + `"`},
		{"user_uuid", `"` + acct + `"`},
		{"value", `12`},
		{"value_type", `0`},
		{"scene", `11`},
		{"op_uid", `"deployer"`},
		{"resource_id", `"12"`},
		{"resource_name", `"CPU basic"`},
		{"customer_id", `"u-user-space-1"`},
		{"created_at", `"2026-08-18T10:00:00+08:00"`},
		{"extra", `"{\"from_source\":\"space\"}"`},
	}, mods...)
}

// cloudEvent is a CloudEvent with id id; mods change the attributes,
// dataMods the data object.
func cloudEvent(id string, mods []string, dataMods ...string) string {
	data := object([][2]string{
		{"value", `7`},
		{"value_type", `1`},
		{"scene", `15`},
		{"op_uid", `"aigateway"`},
		{"resource_id", `"csghub://model-x"`},
		{"resource_name", `"Model X"`},
		{"customer_id", `"model-x"`},
		{"extra", `"{\"prompt_token_num\":\"10\"}"`},
	}, dataMods...)
	return object([][2]string{
		{"specversion", `"1.0"`},
		{"id", `"` + id + `"`},
		{"source", `"/aigateway"`},
		{"type", `"com.opencsg.metering"`},
		{"subject", `"` + acct + `"`},
		{"time", `"2026-08-18T10:00:00Z"`},
		{"datacontenttype", `"application/json"`},
		{"data", data},
	}, mods...)
}

func jsonArray(elems ...string) string { return "[" + strings.Join(elems, ",\n") + "]" }

// checkItem asserts the contract every item keeps: either a valid event
// that Validate leaves as it is, or an error that names a field.
func checkItem(t testing.TB, it decode.Item) {
	t.Helper()
	if it.Err != nil {
		if it.Err.Field == "" || it.Err.Message == "" || it.Err.Code == "" {
			t.Fatalf("error without field, code or message: %#v", it.Err)
		}
		if it.Event != (abacus.UsageEvent{}) {
			t.Fatalf("item with an error carries an event: %+v", it)
		}
		return
	}
	ev := it.Event
	if err := ev.Validate(); err != nil {
		t.Fatalf("decoded event fails Validate: %v (%+v)", err, it.Event)
	}
	if ev != it.Event {
		t.Fatalf("Validate changed a decoded event:\n got %+v\nthen %+v", it.Event, ev)
	}
	if it.ID != ev.ID {
		t.Fatalf("item ID %q, event ID %q", it.ID, ev.ID)
	}
	if ev.Time.Location() != nil && ev.Time.Location().String() != "UTC" {
		t.Fatalf("time not in UTC: %v", ev.Time)
	}
}

// readAll drains a reader, checking each item. It stops at the first
// error other than io.EOF and returns it.
func readAll(t testing.TB, r *decode.Reader) ([]decode.Item, error) {
	t.Helper()
	var items []decode.Item
	last := 0
	for {
		it, err := r.Next()
		if err != nil {
			if err2 := func() error { _, e := r.Next(); return e }(); !errors.Is(err2, err) && err2 != err {
				t.Fatalf("Next after %v returned %v", err, err2)
			}
			if err == io.EOF {
				return items, nil
			}
			return items, err
		}
		checkItem(t, it)
		if it.Line <= last {
			t.Fatalf("line %d after line %d", it.Line, last)
		}
		last = it.Line
		items = append(items, it)
	}
}

// sameItem compares two items, errors by value.
func sameItem(a, b decode.Item) bool {
	if (a.Err == nil) != (b.Err == nil) || a.Err != nil && *a.Err != *b.Err {
		return false
	}
	return a.Event == b.Event && a.ID == b.ID && a.Line == b.Line
}
