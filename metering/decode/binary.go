package decode

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/url"
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
// no Content-Type at all is JSON, what CSGHub's producers send. get returns
// a header's value; percentEncoded is for BinaryCloudEvent.
func ForHeaders(get func(name string) string, percentEncoded bool) (func([]byte) ([]Item, error), error) {
	ct := get("Content-Type")
	if BinaryHeader(get) {
		if mt, _, _ := mime.ParseMediaType(ct); mt != ContentTypeCloudEvent && mt != ContentTypeCloudEventBatch {
			return func(body []byte) ([]Item, error) { return BinaryCloudEvent(get, percentEncoded, ct, body) }, nil
		}
	}
	if strings.TrimSpace(ct) == "" {
		ct = ContentTypeJSON
	}
	return ForContentType(ct)
}

// BinaryContentType checks the media type of a binary-mode body, the
// event's datacontenttype, for a transport where the whole message can be
// refused for it: over HTTP a type abacus does not read is 415, as in the
// other modes, not an item rejected in a 200. Over NATS a message is
// dead-lettered whole anyway, and BinaryCloudEvent names the header there.
// No Content-Type at all is JSON.
func BinaryContentType(ct string) error {
	if strings.TrimSpace(ct) == "" {
		return nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
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
// they name its specversion. get returns a header's value ("" if absent).
func BinaryHeader(get func(name string) string) bool {
	return get("ce-specversion") != ""
}

// BinaryCloudEvent decodes a CloudEvent in binary content mode: get returns
// the ce-* headers, contentType is the body's media type (the event's
// datacontenttype) and body its data, a JSON object of usage. The HTTP
// binding percent-encodes header values; percentEncoded decodes them.
//
// As with a structured event, a problem with the event is the item's error,
// and only a body that is not JSON fails the call. Errors name the header
// ("ce-id", "ce-time") or, within the body, the field ("value").
func BinaryCloudEvent(get func(name string) string, percentEncoded bool, contentType string, body []byte) ([]Item, error) {
	body = bytes.TrimPrefix(body, utf8BOM)
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, abacus.Errorf(abacus.CodeInvalid, "body", "is empty: in binary mode the body is the event's data, a JSON object of usage")
	}
	if err := checkJSON(body); err != nil {
		return nil, abacus.Errorf(abacus.CodeInvalid, "body", "is not valid JSON: %s", err)
	}
	ev := map[string]any{"data": json.RawMessage(body)}
	var id string
	for _, attr := range binaryAttributes {
		v := get("ce-" + attr)
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
		if attr == "id" {
			id = v
		}
		if !utf8.ValidString(v) {
			// json.Marshal below would replace the bytes with U+FFFD.
			return []Item{{Err: notUTF8("ce-" + attr), ID: displayID(id)}}, nil
		}
		ev[attr] = v
	}
	if strings.TrimSpace(contentType) != "" {
		ev["datacontenttype"] = contentType
	}
	structured, err := json.Marshal(ev)
	if err != nil {
		return nil, abacus.Errorf(abacus.CodeInvalid, "body", "is not valid JSON: %s", err)
	}
	it := decodeOne(structured, formatCloudEvent, func() string { return "body" })
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
