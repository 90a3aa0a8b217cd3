package decode

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/abacus-billing/abacus"
)

// Binary content mode carries a CloudEvent's attributes in headers named
// ce-<attribute> and its data as the whole body, whose media type is the
// event's datacontenttype. It is what CloudEvents SDKs send by default
// over HTTP, and over NATS where messages have headers.

// binaryAttributes are the attributes binary mode reads; extensions are
// ignored, as structured mode ignores them.
var binaryAttributes = []string{"specversion", "id", "source", "type", "subject", "time"}

// ForHeaders picks the decoder for a message by its headers, as the
// CloudEvents bindings have it: a CloudEvents content type is structured or
// batch mode; otherwise a ce-specversion header is binary mode, with the
// body's content type as the data's; otherwise ForContentType decides, and
// no Content-Type at all is JSON, what CSGHub's producers send. h is the
// message's headers (http.Header, nats.Header), their names in any case;
// percentEncoded is for BinaryCloudEvent. Content-Type given twice is a
// CodeInvalid error, as one that is not a media type is.
func ForHeaders(h map[string][]string, percentEncoded bool) (Decoder, error) {
	hv := foldHeaders(h)
	ct, ctErr := hv.one("Content-Type")
	if hv.binary() {
		// The binary decoder names a repeated Content-Type in the item's
		// error, which over NATS dead-letters the message with that reason.
		if mt, _, _ := mime.ParseMediaType(ct); ctErr != nil || mt != ContentTypeCloudEvent && mt != ContentTypeCloudEventBatch {
			return func(body []byte, reserve func(int) error) ([]Item, error) {
				return binaryCloudEvent(hv, percentEncoded, body, reserve)
			}, nil
		}
	}
	if err := hv.withoutSpecversion(); err != nil {
		return nil, err
	}
	if ctErr != nil {
		return nil, ctErr
	}
	if strings.TrimSpace(ct) == "" {
		ct = ContentTypeJSON
	}
	return ForContentType(ct)
}

// BinaryContentType checks the media type of a binary-mode body, the
// event's datacontenttype, for a transport where the whole message can be
// refused for it: over HTTP a type abacus does not read is 415, as in the
// other modes, not an item rejected in a 200; one that is not a media type,
// or is given twice, is 400. Over NATS a message is dead-lettered whole
// anyway, and BinaryCloudEvent names the header there. No Content-Type at
// all is JSON.
func BinaryContentType(h map[string][]string) error {
	ct, err := foldHeaders(h).one("Content-Type")
	if err != nil {
		return err
	}
	if strings.TrimSpace(ct) == "" {
		return nil
	}
	mt, params, perr := mime.ParseMediaType(ct)
	if perr != nil {
		return abacus.Errorf(abacus.CodeInvalid, "Content-Type", "%s is not a media type", show(ct))
	}
	if err := utf8Charset(params); err != nil {
		return err
	}
	switch mt {
	case ContentTypeJSON, ContentTypeCloudEvent, ContentTypeCloudEventBatch:
		return nil
	}
	return abacus.Errorf(abacus.CodeUnsupportedMedia, "Content-Type", "%s is not supported: a CloudEvent in binary mode carries its data as %s", show(mt), ContentTypeJSON)
}

// BinaryHeader says whether headers carry a CloudEvent in binary mode:
// they name its specversion.
func BinaryHeader(h map[string][]string) bool {
	return foldHeaders(h).binary()
}

// BinaryCloudEvent decodes a CloudEvent in binary content mode: the ce-*
// headers of h are its attributes, its Content-Type the body's media type
// (the event's datacontenttype), and body its data, a JSON object of
// usage. The HTTP binding percent-encodes header values; percentEncoded
// decodes them.
//
// As with a structured event, a problem with the event is the item's error,
// and only a body that is not JSON fails the call. Errors name the header
// ("ce-id", "ce-time") or, within the body, the field ("value"). A ce-*
// header or Content-Type given more than once is such an error: which of
// its values the sender meant is not ours to guess, and the first could
// charge the wrong account.
func BinaryCloudEvent(h map[string][]string, percentEncoded bool, body []byte) ([]Item, error) {
	return binaryCloudEvent(foldHeaders(h), percentEncoded, body, nil)
}

func binaryCloudEvent(h headers, percentEncoded bool, body []byte, reserve func(int) error) ([]Item, error) {
	body = bytes.TrimPrefix(body, utf8BOM)
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, abacus.Errorf(abacus.CodeInvalid, "body", "is empty: in binary mode the body is the event's data, a JSON object of usage")
	}
	if err := checkJSON(body); err != nil {
		return nil, abacus.Errorf(abacus.CodeInvalid, "body", "is not valid JSON: %s", err)
	}
	if err := reserveItems(reserve, 1); err != nil {
		return nil, err
	}
	ev := map[string]any{}
	// The item is named by its ce-id from the start, as sent where it is
	// not percent-encoded as it should be, and by the first where it is
	// sent twice.
	var id string
	if vs := h["ce-id"]; len(vs) > 0 {
		id = vs[0]
		if d, err := url.PathUnescape(id); percentEncoded && err == nil {
			id = d
		}
	}
	for _, attr := range binaryAttributes {
		v, err := h.one("ce-" + attr)
		if err != nil {
			return []Item{{Err: err, ID: displayID(id)}}, nil
		}
		if v == "" {
			continue
		}
		if percentEncoded {
			d, err := url.PathUnescape(v)
			if err != nil {
				return []Item{{Err: abacus.Errorf(abacus.CodeInvalid, "ce-"+attr, "%s is not percent-encoded as the HTTP binding asks", show(v)), ID: displayID(id)}}, nil
			}
			v = d
		}
		if !utf8.ValidString(v) {
			// json.Marshal below would replace the bytes with U+FFFD.
			return []Item{{Err: notUTF8("ce-" + attr), ID: displayID(id)}}, nil
		}
		ev[attr] = v
	}
	// Extensions are not read, but one given twice is refused too: an
	// event has each attribute once, so the message is not one event as
	// its sender meant it.
	if err := h.repeated("ce-"); err != nil {
		return []Item{{Err: err, ID: displayID(id)}}, nil
	}
	// A CSGHub field as a header would be read as an extension and
	// ignored, and the usage it says lost, as structured mode refuses one
	// beside the attributes (QA: ce-value: 500 was charged as the body's 1).
	for _, n := range csghubNames {
		if _, ok := h["ce-"+n]; ok {
			return []Item{{Err: abacus.Errorf(abacus.CodeInvalid, "ce-"+n, "is a CSGHub field as a header: a CloudEvent in binary mode carries usage in the body, "+
				"and its ce-id, ce-subject and ce-time stand for uuid, user_uuid and created_at"), ID: displayID(id)}}, nil
		}
	}
	contentType, err := h.one("Content-Type")
	if err != nil {
		return []Item{{Err: err, ID: displayID(id)}}, nil
	}
	// The binding carries datacontenttype as Content-Type; a header of its
	// own says the same or is refused, as structured mode refuses a type
	// that is not JSON (QA: text/plain was taken here, refused there).
	if dct, err := h.one("ce-datacontenttype"); err != nil {
		return []Item{{Err: err, ID: displayID(id)}}, nil
	} else if mt, params, perr := mime.ParseMediaType(dct); strings.TrimSpace(dct) != "" && (perr != nil || mt != ContentTypeJSON || utf8Charset(params) != nil) {
		return []Item{{Err: abacus.Errorf(abacus.CodeInvalid, "ce-datacontenttype", "%s is not supported; data must be %s, in UTF-8", show(dct), ContentTypeJSON), ID: displayID(id)}}, nil
	}
	if strings.TrimSpace(contentType) != "" {
		ev["datacontenttype"] = contentType
	}
	attrs, merr := json.Marshal(ev)
	if merr != nil {
		return nil, abacus.Errorf(abacus.CodeInvalid, "body", "is not valid JSON: %s", merr)
	}
	// The body goes in as it came: json.Marshal would check it again, to
	// encoding/json's depth, and refuse a deep body whole where structured
	// mode refuses only what of it is at fault (QA).
	structured := make([]byte, 0, len(attrs)+len(body)+9)
	structured = append(structured, attrs[:len(attrs)-1]...)
	if len(ev) > 0 {
		structured = append(structured, ',')
	}
	structured = append(append(append(structured, `"data":`...), body...), '}')
	it := decodeOne(structured, formatBinaryCloudEvent, func() string { return "body" })
	if it.Err != nil {
		e := *it.Err
		e.Field = binaryField(e.Field)
		it.Err = &e
	}
	if it.names != nil {
		names := *it.names
		for i := range names {
			names[i] = binaryField(names[i])
		}
		it.names = &names
	}
	return []Item{it}, nil
}

// headers are a message's headers by their names in lower case: HTTP
// canonicalizes names (Ce-Id) and NATS keeps them as sent (ce-id from
// CloudEvents SDKs, Ce-Id from others), and either spelling, or both, is
// one header.
type headers map[string][]string

func foldHeaders(h map[string][]string) headers {
	out := make(headers, len(h))
	for k, vs := range h {
		lower := strings.ToLower(k)
		out[lower] = append(out[lower], vs...)
	}
	return out
}

// one returns the value of the header name ("" if absent); more than one
// value is an error naming it.
func (h headers) one(name string) (string, *abacus.Error) {
	vs := h[strings.ToLower(name)]
	switch len(vs) {
	case 0:
		return "", nil
	case 1:
		return vs[0], nil
	}
	return "", abacus.Errorf(abacus.CodeInvalid, name, "appears more than once in the headers; send it once")
}

// repeated returns the error of one for the first header, in name order,
// whose name starts with prefix and that has more than one value.
func (h headers) repeated(prefix string) *abacus.Error {
	var names []string
	for name, vs := range h {
		if strings.HasPrefix(name, prefix) && len(vs) > 1 {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	_, err := h.one(slices.Min(names))
	return err
}

// binary says whether the headers name a specversion: binary mode.
func (h headers) binary() bool {
	return slices.ContainsFunc(h["ce-specversion"], func(v string) bool { return v != "" })
}

// WithoutSpecversion refuses a message with a header of binary mode's
// attributes (ce-id, ce-subject, …) but no ce-specversion, a CloudEvents
// SDK set up half way: its body is neither binary mode's data nor to be
// taken for an event of its own (QA: one with ce-id alone was charged
// under the uuid of its body). ForHeaders refuses it too; a caller that
// reads a body whatever its headers say (NATS) asks first.
func WithoutSpecversion(h map[string][]string) error {
	if err := foldHeaders(h).withoutSpecversion(); err != nil { // a nil *abacus.Error is no nil error
		return err
	}
	return nil
}

func (h headers) withoutSpecversion() *abacus.Error {
	if h.binary() {
		return nil
	}
	// Structured and batch mode may carry binary mode's headers beside the
	// event, which is the body's whole (the HTTP binding, 3.2).
	if mt, _, _ := mime.ParseMediaType(strings.Join(h["content-type"], ",")); mt == ContentTypeCloudEvent || mt == ContentTypeCloudEventBatch {
		return nil
	}
	for _, attr := range binaryAttributes[1:] {
		if slices.ContainsFunc(h["ce-"+attr], func(v string) bool { return v != "" }) {
			return abacus.Errorf(abacus.CodeInvalid, "ce-specversion", "is missing, but the message has ce-%s: a CloudEvent in binary mode says ce-specversion: 1.0, and without it the body would be read as an event of its own, under another id", attr)
		}
	}
	// A CSGHub field as a header beside a body read as an event of its
	// own would be ignored, as in binary mode (QA: ce-value: 500 beside a
	// body's value of 1).
	for _, n := range csghubNames {
		if _, ok := h["ce-"+n]; ok {
			return abacus.Errorf(abacus.CodeInvalid, "ce-"+n, "is a CSGHub field as a header: the body carries the usage, and this header would be ignored")
		}
	}
	return nil
}

// binaryField names, for a binary-mode sender, the field a structured-mode
// error names: an attribute is a header, the data is the body.
func binaryField(structured string) string {
	switch {
	case structured == "datacontenttype":
		return "Content-Type"
	case structured == "data":
		return "body"
	case strings.HasPrefix(structured, "data."):
		return strings.TrimPrefix(structured, "data.")
	}
	for _, attr := range binaryAttributes {
		if structured == attr {
			return "ce-" + attr
		}
	}
	return structured
}
