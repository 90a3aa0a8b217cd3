// Package decode turns every wire format of usage events into
// []abacus.UsageEvent: CSGHub metering events as JSON, CloudEvents 1.0
// (structured, batch and binary mode), and files of NDJSON or CSV.
//
// Every item is decoded on its own: a bad item yields an Item whose Err
// names the field at fault in its wire name, and the other items still come
// through. Only a body that cannot be split into items at all (not JSON, or
// not an object or array) is an error of the whole call.
//
// Numbers never go through float64: values are read from the JSON text
// itself and must be whole numbers that fit in an int64.
package decode

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/jsontext"
)

// Item is one decoded event or the reason it could not be decoded.
//
// Err.Field is the wire name of the field at fault: "value", "created_at"
// for CSGHub events and CSV columns; "id", "subject", "time", "specversion"
// or "data.value" for CloudEvents. Where no field is at fault the item as
// a whole is named: "[3]" for the fourth element of a JSON array that is
// not an object, "line 7" for a file line that is not JSON, too long, or
// not valid CSV. A file item's line is in Line.
type Item struct {
	Event abacus.UsageEvent // valid when Err == nil (already passed Event.Validate())
	Err   *abacus.Error     // names the field, in the wire name (e.g. "value", "created_at", "data.value")
	ID    string            // the event id if it could be read, even when Err != nil (so results can name the item)
	Line  int               // for files: the 1-based line (a CSV record is one line); 0 otherwise
	names *[nFields]string  // each field's wire name, where the format's are not CSGHub's
}

// WireField is the name a field has in this item's format, given its
// CSGHub name (as the ledger's errors give it): "created_at" is "time" in
// a CloudEvent, and "extra.prompt_token_num" is "data.extra.prompt_token_num".
// Names that are not CSGHub fields come back as they are.
func (it Item) WireField(field string) string {
	if it.names == nil {
		return field
	}
	for i, n := range csghubNames {
		if rest, ok := strings.CutPrefix(field, n); ok && (rest == "" || rest[0] == '.') {
			return it.names[i] + rest
		}
	}
	return field
}

// Content types ForContentType knows.
const (
	ContentTypeJSON            = "application/json"
	ContentTypeCloudEvent      = "application/cloudevents+json"
	ContentTypeCloudEventBatch = "application/cloudevents-batch+json"
)

// format says how to read one JSON object.
type format int

const (
	formatCSGHub     format = iota // a CSGHub metering event
	formatCloudEvent               // a CloudEvents 1.0 event in JSON format
	formatAuto                     // a CloudEvent if it has "specversion", else CSGHub
	// formatBinaryCloudEvent is a CloudEvent rebuilt from binary mode's
	// headers and body, whose messages name the attributes as headers.
	formatBinaryCloudEvent
)

// Decoder decodes a body into its items. reserve, if not nil, is told how
// many items the body holds before any is decoded, so that a caller can
// bound the memory they will take (or wait for it); an error it returns
// ends the call and is returned as it is.
type Decoder func(body []byte, reserve func(items int) error) ([]Item, error)

// CSGHubJSON decodes a single JSON object or a JSON array of CSGHub
// metering events. It returns an error only if the body is not JSON or
// is neither an object nor an array.
func CSGHubJSON(body []byte) ([]Item, error) {
	return decodeBody(body, formatCSGHub, true, true, nil)
}

// CloudEvent decodes one CloudEvents 1.0 event in structured mode
// (application/cloudevents+json): a single JSON object.
func CloudEvent(body []byte) ([]Item, error) {
	return decodeBody(body, formatCloudEvent, true, false, nil)
}

// CloudEventsBatch decodes CloudEvents in batch mode
// (application/cloudevents-batch+json): a JSON array of events.
func CloudEventsBatch(body []byte) ([]Item, error) {
	return decodeBody(body, formatCloudEvent, false, true, nil)
}

// decoderOf is the Decoder of a format, and of the bodies it allows.
func decoderOf(f format, allowObject, allowArray bool) Decoder {
	return func(body []byte, reserve func(int) error) ([]Item, error) {
		return decodeBody(body, f, allowObject, allowArray, reserve)
	}
}

// ForContentType picks the decoder for an HTTP Content-Type header.
// application/json reads CSGHub events, or CloudEvents where the objects
// carry "specversion"; application/cloudevents+json reads one CloudEvent;
// application/cloudevents-batch+json reads a batch of them. Parameters
// other than charset=utf-8 are ignored. Any other type or charset is a
// CodeUnsupportedMedia error naming Content-Type; a missing or malformed
// header, a CodeInvalid one.
func ForContentType(ct string) (Decoder, error) {
	if strings.TrimSpace(ct) == "" {
		return nil, abacus.Errorf(abacus.CodeInvalid, "Content-Type", "is required: send %s, %s or %s", ContentTypeJSON, ContentTypeCloudEvent, ContentTypeCloudEventBatch)
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return nil, abacus.Errorf(abacus.CodeInvalid, "Content-Type", "%s is not a media type", show(ct))
	}
	if err := utf8Charset(params); err != nil {
		return nil, err
	}
	switch mt {
	case ContentTypeJSON:
		// An object or an array whose objects are CloudEvents if they
		// carry "specversion", CSGHub events if not.
		return decoderOf(formatAuto, true, true), nil
	case ContentTypeCloudEvent:
		return decoderOf(formatCloudEvent, true, false), nil
	case ContentTypeCloudEventBatch:
		return decoderOf(formatCloudEvent, false, true), nil
	}
	return nil, abacus.Errorf(abacus.CodeUnsupportedMedia, "Content-Type", "%s is not supported: send %s, %s or %s", show(mt), ContentTypeJSON, ContentTypeCloudEvent, ContentTypeCloudEventBatch)
}

// utf8Charset refuses a Content-Type's charset other than UTF-8.
func utf8Charset(params map[string]string) error {
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return abacus.Errorf(abacus.CodeUnsupportedMedia, "Content-Type", "charset %s is not supported; JSON is UTF-8", show(cs))
	}
	return nil
}

// decodeBody splits a body into its items and decodes each, once reserve
// (if not nil) has taken their number.
func decodeBody(body []byte, f format, allowObject, allowArray bool, reserve func(int) error) ([]Item, error) {
	body = bytes.TrimPrefix(body, utf8BOM)
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, abacus.Errorf(abacus.CodeInvalid, "body", "is empty")
	}
	if err := checkJSON(body); err != nil {
		return nil, abacus.Errorf(abacus.CodeInvalid, "body", "is not valid JSON: %s", err)
	}
	switch trimmed[0] {
	case '{':
		if !allowObject {
			return nil, abacus.Errorf(abacus.CodeInvalid, "body", "is a JSON object; batch mode (%s) takes a JSON array of events", ContentTypeCloudEventBatch)
		}
		if err := reserveItems(reserve, 1); err != nil {
			return nil, err
		}
		return []Item{decodeOne(body, f, func() string { return "body" })}, nil
	case '[':
		if !allowArray {
			return nil, abacus.Errorf(abacus.CodeInvalid, "body", "is a JSON array; structured mode (%s) takes one event: send a batch as %s", ContentTypeCloudEvent, ContentTypeCloudEventBatch)
		}
		return decodeArray(body, f, reserve)
	}
	want := "a JSON object or array of events"
	switch {
	case !allowArray:
		want = "a JSON object"
	case !allowObject:
		want = "a JSON array of events"
	}
	return nil, abacus.Errorf(abacus.CodeInvalid, "body", "is %s; it must be %s", kindName(kindOf(trimmed)), want)
}

// MaxItems bounds the events of one body. What a body decodes to, and
// its answer, grow with its items, not its bytes: a 16 MiB array of
// single digits is eight million of them.
const MaxItems = 10_000

// decodeArray decodes each element of a JSON array known to be valid.
func decodeArray(body []byte, f format, reserve func(int) error) ([]Item, error) {
	n := 0
	eachElement(body, 0, func([]byte) { n++ })
	if n > MaxItems {
		return nil, abacus.Errorf(abacus.CodeTooLarge, "body", "holds %d items; send at most %d in one request or message", n, MaxItems)
	}
	if err := reserveItems(reserve, n); err != nil {
		return nil, err
	}
	items := make([]Item, 0, n)
	eachElement(body, 0, func(raw []byte) {
		i := len(items)
		items = append(items, decodeOne(raw, f, func() string { return "[" + strconv.Itoa(i) + "]" }))
	})
	return items, nil
}

func reserveItems(reserve func(int) error, n int) error {
	if reserve == nil {
		return nil
	}
	return reserve(n)
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// checkJSON reports why data is not one valid JSON value, or nil. A value
// nested deeper than encoding/json goes is valid here: it is the item
// holding it that is wrong, and its decoding says so for that item alone.
func checkJSON(data []byte) error {
	if json.Valid(data) {
		return nil
	}
	at := jsontext.ErrorAt(data)
	if at < 0 {
		return nil
	}
	if bytes.HasPrefix(data, []byte{0xff, 0xfe}) || bytes.HasPrefix(data, []byte{0xfe, 0xff}) {
		return errors.New("it is UTF-16 text (it starts with a UTF-16 byte order mark); send JSON in UTF-8")
	}
	var v json.RawMessage
	err := json.Unmarshal(data, &v)
	if err == nil {
		return errors.New("not a single JSON value")
	}
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &syn) && strings.Contains(syn.Error(), "exceeded max depth"):
		// Depth is no fault here (see above): say where the text breaks,
		// counting from 1 as encoding/json's offsets do.
		if at == len(data) {
			return fmt.Errorf("it ends before its value does (at byte %d)", at)
		}
		r, _ := utf8.DecodeRune(data[at:])
		return fmt.Errorf("invalid character %q (at byte %d)", r, at+1)
	case errors.As(err, &syn):
		return fmt.Errorf("%s (at byte %d)", strings.TrimPrefix(syn.Error(), "json: "), syn.Offset)
	}
	return errors.New(strings.TrimPrefix(err.Error(), "json: "))
}

// decodeOne decodes one JSON value known to be valid. An error that
// concerns it as a whole names it where() ("body", "[3]", "line 7"), which
// is only spelled out then.
func decodeOne(raw []byte, f format, where func() string) Item {
	obj, kind := readObject(raw)
	if obj == nil {
		return Item{Err: abacus.Errorf(abacus.CodeInvalid, where(), "is %s, not a JSON object", kindName(kind))}
	}
	if f == formatAuto {
		f = formatCSGHub
		if _, ok, _ := obj.lookup("specversion"); ok {
			f = formatCloudEvent
		}
	}
	if f == formatCloudEvent || f == formatBinaryCloudEvent {
		return cloudEventItem(obj, f == formatBinaryCloudEvent)
	}
	return csghubItem(obj)
}
