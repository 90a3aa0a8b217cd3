package decode_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/metering/decode"
)

// want is what one item of a file should be.
type want struct {
	line  int
	id    string
	field string // "" for a good event
}

func checkWant(t *testing.T, items []decode.Item, wants []want) {
	t.Helper()
	if len(items) != len(wants) {
		for _, it := range items {
			t.Logf("%+v", it)
		}
		t.Fatalf("%d items, want %d", len(items), len(wants))
	}
	for i, w := range wants {
		it := items[i]
		field := ""
		if it.Err != nil {
			field = it.Err.Field
			t.Logf("%v", it.Err)
		}
		if it.Line != w.line || it.ID != w.id || field != w.field {
			t.Fatalf("item %d: line %d id %q field %q (%v), want %+v", i, it.Line, it.ID, field, it.Err, w)
		}
	}
}

func TestNDJSON(t *testing.T) {
	lines := []string{
		csghub("n1"),              // 1
		"",                        // 2 blank
		"   \t",                   // 3 blank
		cloudEvent("n2", nil),     // 4
		`{"uuid":"n3",`,           // 5 malformed
		csghub("n4", "value=2.5"), // 6
		"42",                      // 7 not an object
		cloudEvent("n5", nil, `user_uuid="`+acct2+`"`),         // 8
		"[" + csghub("n6") + "]",                               // 9 an array is not a line's event
		csghub("n7") + " " + csghub("n8"),                      // 10 two values on a line
		csghub("n9", `created_at="2026-08-18T10:00:00+05:45"`), // 11
	}
	body := strings.Join(lines, "\n") // no newline after the last line
	items, err := readAll(t, decode.NewNDJSONReader(strings.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	checkWant(t, items, []want{
		{1, "n1", ""},
		{4, "n2", ""},
		{5, "", "line 5"},
		{6, "n4", "value"},
		{7, "", "line 7"},
		{8, "n5", "data.user_uuid"},
		{9, "", "line 9"},
		{10, "", "line 10"},
		{11, "n9", ""},
	})
	if got := items[8].Event.Time.Format("15:04"); got != "04:15" {
		t.Fatalf("time %s", got)
	}
}

func TestNDJSONLineEndingsAndBOM(t *testing.T) {
	body := "\ufeff" + csghub("a") + "\r\n\r\n" + csghub("b") + "\r\n"
	items, err := readAll(t, decode.NewNDJSONReader(strings.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	checkWant(t, items, []want{{1, "a", ""}, {3, "b", ""}})
	// One byte at a time, as a slow network delivers.
	items, err = readAll(t, decode.NewNDJSONReader(iotest.OneByteReader(strings.NewReader(body))))
	if err != nil {
		t.Fatal(err)
	}
	checkWant(t, items, []want{{1, "a", ""}, {3, "b", ""}})
	items, err = readAll(t, decode.NewNDJSONReader(strings.NewReader("")))
	if err != nil || len(items) != 0 {
		t.Fatal(items, err)
	}
}

func TestNDJSONLongLines(t *testing.T) {
	pad := func(n int) string { // a good event of exactly n bytes
		ev := csghub("p", `pad=""`)
		return csghub("p", `pad="`+strings.Repeat("x", n-len(ev))+`"`)
	}
	ok := pad(decode.MaxLine)
	long := pad(decode.MaxLine + 1)
	huge := strings.Repeat("y", 5*decode.MaxLine) // not even JSON
	body := ok + "\n" + long + "\n" + csghub("after-long") + "\n" + huge + "\n" + csghub("after-huge") + "\n" + huge
	items, err := readAll(t, decode.NewNDJSONReader(strings.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	checkWant(t, items, []want{
		{1, "p", ""},
		{2, "", "line 2"},
		{3, "after-long", ""},
		{4, "", "line 4"},
		{5, "after-huge", ""},
		{6, "", "line 6"},
	})
	if !strings.Contains(items[1].Err.Message, "longer") {
		t.Fatal(items[1].Err)
	}
}

var errDisk = errors.New("disk on fire")

func TestNDJSONReadError(t *testing.T) {
	r := io.MultiReader(strings.NewReader(csghub("a")+"\n"+csghub("b")), iotest.ErrReader(errDisk))
	items, err := readAll(t, decode.NewNDJSONReader(r))
	if !errors.Is(err, errDisk) {
		t.Fatalf("error %v", err)
	}
	checkWant(t, items, []want{{1, "a", ""}})
}

const csvHeader = "uuid,user_uuid,value,value_type,scene,op_uid,resource_id,resource_name,customer_id,created_at,extra\n"

func csvRow(id string, cells ...string) string {
	row := []string{id, acct, "12", "0", "11", "deployer", "12", "CPU basic", "u-1", "2026-08-18T10:00:00+08:00", `"{""from_source"":""space""}"`}
	for i, c := range cells {
		if c != "=" {
			row[i+1] = c
		}
	}
	return strings.Join(row, ",") + "\n"
}

func TestCSV(t *testing.T) {
	body := csvHeader +
		csvRow("c1") + // 2
		"\n" + // 3 blank
		csvRow("c2", "=", "12.5") + // 4
		csvRow("c3", "=", "1e3") + // 5
		csvRow("c4", "=", "99999999999999999999") + // 6
		csvRow("c5", "=", "=", "7") + // 7
		csvRow("c6", "=", "=", "=", "x") + // 8
		csvRow("c7", "=", "=", "=", "=", "=", "=", "=", "=", "2026-08-18 10:00:00") + // 9
		csvRow("c8", "=", "=", "=", "=", "=", "=", "=", "=", "2026-08-18T10:00:00+05:45") + // 10
		csvRow("c9", "=", "", "=", "=", "", "", "", "", "=", "") + // 11: empty value
		csvRow("c10", "=", "=", "=", "=", "", "", "", "", "=", "") + // 12: empty optional cells
		"c11," + acct + ",1,0,11\n" + // 13: too few fields
		csvRow("c12", "=", "=", "=", "=", "=", "=", `"multi`+"\n"+`line name"`, "=", "=", `"{`+"\n"+`""k"": ""v""}"`) + // 14-16: no field may hold a line break: each line is a record
		csvRow("c13", "not-a-uuid") + // 17
		`c14,x"y,1,0,11,,,,,2026-08-18T10:00:00Z,` + "\n" + // 18: bare quote, after the uuid
		csvRow("c15", "=", "=", "=", "=", "=", "=", "=", "=", "=", `"not json"`) + // 19
		csvRow("c16", "=", "-5") + // 20
		csvRow("", "=") + // 21: empty uuid
		csvRow("c18", "=", "=", "=", "=", "=", "=", "=", "=", "") // 22: no time
	items, err := readAll(t, mustCSV(t, body))
	if err != nil {
		t.Fatal(err)
	}
	checkWant(t, items, []want{
		{2, "c1", ""},
		{4, "c2", "value"},
		{5, "c3", "value"},
		{6, "c4", "value"},
		{7, "c5", "value_type"},
		{8, "c6", "scene"},
		{9, "c7", "created_at"},
		{10, "c8", ""},
		{11, "c9", "value"},
		{12, "c10", ""},
		{13, "c11", "line 13"},
		{14, "c12", "line 14"}, // "multi
		{15, "", "line 15"},    // line name",…,"{
		{16, "", "line 16"},    // ""k"": ""v""}"
		{17, "c13", "user_uuid"},
		{18, "c14", "line 18"},
		{19, "c15", "extra"},
		{20, "c16", "value"},
		{21, "", "uuid"},
		{22, "c18", "created_at"},
	})
	c1 := items[0].Event
	if c1.Value != 12 || c1.Scene != 11 || c1.ResourceName != "CPU basic" || c1.Extra != `{"from_source":"space"}` || c1.Time.Hour() != 2 {
		t.Fatalf("%+v", c1)
	}
	if got := items[7].Event.Time.Format("15:04"); got != "04:15" {
		t.Fatalf("time %s", got)
	}
	if ev := items[9].Event; ev.OpUID != "" || ev.Extra != "" || ev.CustomerID != "" {
		t.Fatalf("%+v", ev)
	}
	if !strings.Contains(items[8].Err.Message, "required") {
		t.Fatal(items[8].Err)
	}
}

func mustCSV(t *testing.T, body string) *decode.Reader {
	t.Helper()
	r, err := decode.NewCSVReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCSVColumnsAnyOrderCRLFAndBOM(t *testing.T) {
	body := "\ufeff\r\n Created_At ,uuid,value,user_uuid,scene,value_type\r\n" +
		"2026-08-18T10:00:00Z,a," + "5," + acct + ",11,0\r\n" +
		"\r\n" +
		"2026-08-18T10:00:00Z,b," + "5.0," + acct + ",11,0\r\n" +
		"2026-08-18T10:00:00Z,c," + "5," + acct + ",11,1"
	items, err := readAll(t, mustCSV(t, body))
	if err != nil {
		t.Fatal(err)
	}
	checkWant(t, items, []want{{3, "a", ""}, {5, "b", "value"}, {6, "c", ""}})
	if items[2].Event.ValueType != 1 || items[0].Event.Value != 5 {
		t.Fatalf("%+v", items)
	}
}

func TestCSVHeader(t *testing.T) {
	for _, c := range []struct{ name, header, field, msg string }{
		{"empty file", "", "header", "empty"},
		{"blank lines only", "\n\r\n  \n", "header", "empty"},
		{"unknown column", "uuid,user_uuid,value,value_type,scene,created_at,colour\n", "colour", "not a known column"},
		{"misspelt column", "uuid,user_uuid,valeu,value_type,scene,created_at\n", "valeu", "not a known column"},
		{"repeated column", "uuid,user_uuid,value,value_type,scene,created_at,value\n", "value", "twice"},
		{"missing value", "uuid,user_uuid,value_type,scene,created_at\n", "value", "missing"},
		{"missing uuid", "user_uuid,value,value_type,scene,created_at\n", "uuid", "missing"},
		{"missing created_at", "uuid,user_uuid,value,value_type,scene\n", "created_at", "missing"},
		{"missing scene", "uuid,user_uuid,value,value_type,created_at\n", "scene", "missing"},
		{"empty column name", "uuid,user_uuid,value,value_type,scene,created_at,\n", "column 7", "no name"},
		{"bad quoting", "uuid,\"user_uuid\"x,value\n", "header", "CSV"},
		{"a name over two lines", "\"uuid\n\",user_uuid,value,value_type,scene,created_at\n", "header", "runs past the end of the line"},
		{"ops_id is not op_uid", "uuid,user_uuid,value,value_type,scene,created_at,ops_id\n", "ops_id", "not a known column"},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := c.header + csvRow("x")
			if c.msg == "empty" {
				body = c.header
			}
			r, err := decode.NewCSVReader(strings.NewReader(body))
			var ae *abacus.Error
			if r != nil || !errors.As(err, &ae) {
				t.Fatalf("reader %v, error %v", r != nil, err)
			}
			if ae.Field != c.field || !strings.Contains(ae.Message, c.msg) {
				t.Fatalf("error %q, want field %q and %q", ae, c.field, c.msg)
			}
			t.Log(ae)
		})
	}
	// An I/O error while reading the header is returned as it is.
	_, err := decode.NewCSVReader(io.MultiReader(strings.NewReader("uuid,"), iotest.ErrReader(errDisk)))
	if !errors.Is(err, errDisk) {
		t.Fatal(err)
	}
}

func TestCSVLongRecordsAndErrors(t *testing.T) {
	big := strings.Repeat("n", decode.MaxLine)
	body := csvHeader +
		csvRow("a") + // 2
		csvRow("b", "=", "=", "=", "=", "=", "=", big) + // 3: too long
		csvRow("c") // 4
	items, err := readAll(t, mustCSV(t, body))
	if err != nil {
		t.Fatal(err)
	}
	checkWant(t, items, []want{{2, "a", ""}, {3, "", "line 3"}, {4, "c", ""}})

	r := io.MultiReader(strings.NewReader(csvHeader+csvRow("a")+"b,"), iotest.ErrReader(errDisk))
	rd, err := decode.NewCSVReader(r)
	if err != nil {
		t.Fatal(err)
	}
	items, err = readAll(t, rd)
	if !errors.Is(err, errDisk) || len(items) != 1 {
		t.Fatal(items, err)
	}
}

// TestCSVStrayQuote: a quote that opens a field and is not closed on its
// line costs its own line, not the lines after it: each is read as a
// record of its own, whether the field would have run to the end of the
// file, past MaxLine, or into a later quote.
func TestCSVStrayQuote(t *testing.T) {
	stray := `s,` + acct + `,1,0,11,,,"{` + "\n"
	plain := func(id string) string { return csvRow(id, "=", "=", "=", "=", "=", "=", "=", "=", "=", "") } // no quotes
	many := func(n int, row func(string) string) (string, []want) {
		var b strings.Builder
		var ws []want
		for i := range n {
			id := fmt.Sprintf("r%d", i)
			b.WriteString(row(id))
			ws = append(ws, want{3 + i, id, ""})
		}
		return b.String(), ws
	}
	for _, c := range []struct {
		name string
		rows int
		row  func(string) string
		msg  string
	}{
		{"to the end of the file", 3, plain, "runs past the end of the line"},
		{"past MaxLine", decode.MaxLine/len(plain("r0000")) + 10, plain, "runs past the end of the line"},
		{"into a later quote", 3, func(id string) string { return csvRow(id) }, "runs past the end of the line"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rows, wants := many(c.rows, c.row)
			items, err := readAll(t, mustCSV(t, csvHeader+stray+rows))
			if err != nil {
				t.Fatal(err)
			}
			if len(items) == 0 || items[0].Line != 2 || items[0].ID != "s" || items[0].Err == nil || !strings.Contains(items[0].Err.Message, c.msg) {
				t.Fatalf("first item %+v, want line 2 refused saying %q", items[0], c.msg)
			}
			checkWant(t, items[1:], wants)
		})
	}
	// A stray quote on the last line is refused as encoding/csv finds it.
	items, err := readAll(t, mustCSV(t, csvHeader+csvRow("a")+strings.TrimSuffix(stray, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	checkWant(t, items, []want{{2, "a", ""}, {3, "s", "line 3"}})
}

func TestCSVByteAtATime(t *testing.T) {
	body := csvHeader + csvRow("a") + csvRow("b", "=", "=", "=", "=", "=", "=", `"x`+"\n"+`y"`) + csvRow("c", "=", "1.5")
	want := []want{{2, "a", ""}, {3, "b", "line 3"}, {4, "", "line 4"}, {5, "c", "value"}}
	r, err := decode.NewCSVReader(iotest.OneByteReader(bytes.NewReader([]byte(body))))
	if err != nil {
		t.Fatal(err)
	}
	items, err := readAll(t, r)
	if err != nil {
		t.Fatal(err)
	}
	checkWant(t, items, want)
}

func TestCSVQuoting(t *testing.T) {
	body := csvHeader + csvRow("q1", "=", "=", "=", "=", `"op,1"`, `"12"`, `"CPU, ""basic"""`, `""`, `"2026-08-18T10:00:00Z"`, `""`)
	items, err := readAll(t, mustCSV(t, body))
	if err != nil {
		t.Fatal(err)
	}
	checkWant(t, items, []want{{2, "q1", ""}})
	ev := items[0].Event
	if ev.OpUID != "op,1" || ev.ResourceID != "12" || ev.ResourceName != `CPU, "basic"` || ev.CustomerID != "" || ev.Extra != "" {
		t.Fatalf("%+v", ev)
	}
}

func TestCSVRecordAtTheLimit(t *testing.T) {
	// A record of MaxLine bytes is read (and its field found too long);
	// one byte more is refused as a whole.
	row := func(n int) string { // a record of exactly n bytes before its line end
		r := strings.TrimSuffix(csvRow("p"), "\n")
		return strings.Replace(r, "CPU basic", "CPU basic"+strings.Repeat("x", n-len(r)), 1) + "\r\n"
	}
	body := csvHeader + row(decode.MaxLine) + row(decode.MaxLine+1) + csvRow("q")
	items, err := readAll(t, mustCSV(t, body))
	if err != nil {
		t.Fatal(err)
	}
	checkWant(t, items, []want{{2, "p", "resource_name"}, {3, "", "line 3"}, {4, "q", ""}})
}

// TestCSVStrayQuoteClosedLater: a stray quote closed on a later line
// makes lines that parse together as one record (QA's files). No field
// may hold a line break: the record's first line is refused, and each
// line after it is read as a record of its own, so that every line is an
// event or a named error and none is lost inside another's field.
func TestCSVStrayQuoteClosedLater(t *testing.T) {
	row := func(id, value, customer, day, extra string) string {
		return id + "," + acct + "," + value + ",0,11,,12,," + customer + ",2026-11-" + day + "T00:00:00Z," + extra + "\n"
	}
	for _, c := range []struct {
		name  string
		rows  string
		stray int // the line whose quote is not closed on it
		wants []want
	}{
		{"in customer_id", row("q31", "5", "c", "02", "{}") +
			row("q32", "5", `"c`, "02", "{}") + // 3: the stray quote
			row("q33", "7", `c"`, "03", "{}") + // 4: the quote that closed it, bare on its own line
			row("q34", "5", "c", "02", "{}"),
			3, []want{{2, "q31", ""}, {3, "q32", "line 3"}, {4, "q33", "line 4"}, {5, "q34", ""}}},
		{"in extra", row("x1", "5", "c", "02", `"{`) + // 2: the stray quote
			row("x2", "6", "c", "02", "{}") +
			row("x3", "7", "c", "02", `{}"`) + // 4: the quote that closed it
			row("x4", "8", "c", "02", "{}"),
			2, []want{{2, "x1", "line 2"}, {3, "x2", ""}, {4, "x3", "line 4"}, {5, "x4", ""}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			items, err := readAll(t, mustCSV(t, csvHeader+c.rows))
			if err != nil {
				t.Fatal(err)
			}
			checkWant(t, items, c.wants)
			for _, it := range items {
				if it.Line == c.stray && !strings.Contains(it.Err.Message, "runs past the end of the line") {
					t.Fatalf("line %d: %v", it.Line, it.Err)
				}
				if it.Err == nil && strings.ContainsAny(it.Event.CustomerID+it.Event.Extra, "\r\n") {
					t.Fatalf("line %d: a field holds a line break: %+v", it.Line, it.Event)
				}
			}
		})
	}
}

// TestFilesConcatenated: files joined end to end (cat, or gzip members as
// zcat reads them) carry each file's byte-order mark, and for CSV its
// header, in the middle. A header row there takes over the columns from
// its line on, and a mark at the start of a line is dropped (QA: the
// second file's header was read as an event, and its rows in the first
// file's column order, which charged a customer id as the value).
func TestFilesConcatenated(t *testing.T) {
	first := "uuid,user_uuid,value,value_type,scene,created_at\n" +
		"a," + acct + ",5,0,11,2026-08-18T10:00:00Z\n"
	second := "\ufeffvalue,uuid,user_uuid,scene,value_type,created_at,customer_id\n" +
		"7,b," + acct + ",11,0,2026-08-18T10:01:00Z,500\n"
	items, err := readAll(t, mustCSV(t, first+second))
	if err != nil {
		t.Fatal(err)
	}
	checkWant(t, items, []want{{2, "a", ""}, {4, "b", ""}})
	if ev := items[1].Event; ev.Value != 7 || ev.CustomerID != "500" {
		t.Fatalf("the second file's row read as %+v", ev)
	}
	// A header that is not one (a column twice, one missing) is an error
	// of its line, and the columns stay as they were.
	bad := "uuid,user_uuid,value,value_type,scene,scene\n" + "c," + acct + ",5,0,11,2026-08-18T10:02:00Z\n"
	items, err = readAll(t, mustCSV(t, first+bad))
	if err != nil {
		t.Fatal(err)
	}
	checkWant(t, items, []want{{2, "a", ""}, {3, "", "scene"}, {4, "c", ""}})
	// A row of column names is a header, even in the order before: no
	// event is spelled so, as its value would be a name.
	items, err = readAll(t, mustCSV(t, first+"uuid,user_uuid,value_type,value,scene,created_at\n"))
	if err != nil {
		t.Fatal(err)
	}
	checkWant(t, items, []want{{2, "a", ""}})

	// The first file without its final line break: its last row runs into
	// the second's header, which still takes over, and that row is
	// rejected saying so (QA: the second file's rows were read by the
	// first's columns, a value of 2 as value_type 2).
	items, err = readAll(t, mustCSV(t, strings.TrimSuffix(first, "\n")+second))
	if err != nil {
		t.Fatal(err)
	}
	checkWant(t, items, []want{{2, "a", "line 2"}, {3, "b", ""}})
	if msg := items[0].Err.Message; !strings.Contains(msg, "runs into a header row (value,uuid,user_uuid,scene,value_type,created_at,customer_id)") {
		t.Fatalf("the joined row: %s", msg)
	}
	if ev := items[1].Event; ev.Value != 7 || ev.ValueType != 0 || ev.CustomerID != "500" {
		t.Fatalf("the second file's row read as %+v", ev)
	}
	// Its last field quoted, as extra's JSON is: no valid CSV, and the
	// header still takes over (QA: charged 11 for 12).
	quoted := "uuid,user_uuid,value,value_type,scene,created_at,extra\n" +
		"a," + acct + `,5,0,11,2026-08-18T10:00:00Z,"{""note"":""x""}"`
	items, err = readAll(t, mustCSV(t, quoted+second))
	if err != nil {
		t.Fatal(err)
	}
	checkWant(t, items, []want{{2, "a", "line 2"}, {3, "b", ""}})
	if msg := items[0].Err.Message; !strings.Contains(msg, "is not valid CSV (") || !strings.Contains(msg, "runs into a header row (value,uuid,") {
		t.Fatalf("the joined row: %s", msg)
	}
	if ev := items[1].Event; ev.Value != 7 || ev.ValueType != 0 || ev.CustomerID != "500" {
		t.Fatalf("the second file's row read as %+v", ev)
	}

	items, err = readAll(t, decode.NewNDJSONReader(strings.NewReader(csghub("x")+"\n\ufeff"+csghub("y")+"\n")))
	if err != nil {
		t.Fatal(err)
	}
	checkWant(t, items, []want{{1, "x", ""}, {2, "y", ""}})
}

// TestNDJSONEventsJoinedOnOneLine: NDJSON files joined end to end where
// the first lacks its final line break (cat a.ndjson b.ndjson) put two
// events on one line. The line is rejected saying so, by its number, and
// the lines around it are read (QA: it said only "invalid character '{'
// after top-level value").
func TestNDJSONEventsJoinedOnOneLine(t *testing.T) {
	for name, c := range map[string]struct {
		joined, says string
	}{
		"two":                  {csghub("j1") + csghub("j2"), "holds 2 events joined on one line"},
		"a space between":      {csghub("j1") + " \t" + cloudEvent("j2", nil), "holds 2 events joined on one line"},
		"the next file's mark": {csghub("j1") + "\ufeff" + csghub("j2"), "holds 2 events joined on one line"},
		"three":                {csghub("j1") + csghub("j2") + csghub("j3"), "holds 3 events joined on one line"},
		"the next one cut":     {csghub("j1") + `{"uuid":"j2",`, "holds events joined on one line (1 whole, then from byte 279 one that is not)"},
	} {
		t.Run(name, func(t *testing.T) {
			body := csghub("a") + "\n" + c.joined + "\n" + csghub("b") + "\n"
			items, err := readAll(t, decode.NewNDJSONReader(strings.NewReader(body)))
			if err != nil {
				t.Fatal(err)
			}
			checkWant(t, items, []want{{1, "a", ""}, {2, "", "line 2"}, {3, "b", ""}})
			if msg := items[1].Err.Message; !strings.Contains(msg, c.says) || !strings.Contains(msg, "final line break") {
				t.Fatalf("the joined line: %s", msg)
			}
		})
	}
	// What follows an event on its line but is no event is not valid JSON,
	// as before.
	for _, rest := range []string{"x", "[1]", "42", `"s"`, "\ufeff", csghub("b") + "x"} {
		items, err := readAll(t, decode.NewNDJSONReader(strings.NewReader(csghub("a")+rest+"\n")))
		if err != nil || len(items) != 1 || items[0].Err == nil || strings.Contains(items[0].Err.Message, "joined") ||
			!strings.Contains(items[0].Err.Message, "is not valid JSON") {
			t.Fatalf("%q after an event: %+v %v", rest, items, err)
		}
	}
}
