package decode

import (
	"mime"
	"slices"
	"strings"

	"github.com/abacus-billing/abacus"
)

// cloudEventAttributes are the attributes of a CloudEvent in JSON format
// that decoding reads or refuses. CloudEvents names them in lower case
// only; one in another case ("Subject") is refused as a CSGHub field in
// another case is: encoding/json would read it as the attribute.
var cloudEventAttributes = []string{"specversion", "id", "source", "type", "subject", "time", "data", "datacontenttype", "dataschema", "data_base64"}

// cloudEventItem decodes a CloudEvents 1.0 event in JSON format; binary
// says it was sent in binary mode, where messages name the attributes by
// their headers (binaryField renames the field of its errors).
func cloudEventItem(o object, binary bool) Item {
	attrName := func(attr string) string {
		if binary {
			return "ce-" + attr
		}
		return attr
	}
	idv, idErr := o.field("id", "id")
	rawID, hasID := o.first("id")
	id := idText(rawID, hasID)
	if !hasID {
		// A CSGHub event sent as a CloudEvent (in a batch, or with a
		// stray specversion) is refused; its uuid lets its producer
		// tell which (QA: it was answered with an empty uuid).
		id = idText(o.first("uuid"))
	}
	fail := func(err *abacus.Error) Item { return Item{Err: err, ID: displayID(id)} }

	spec, err := o.field("specversion", "specversion")
	if err != nil {
		return fail(err)
	}
	if !spec.present {
		return fail(abacus.Errorf(abacus.CodeInvalid, "specversion", "is required: a CloudEvent carries \"specversion\": \"1.0\""))
	}
	sv, err := spec.ownStr("specversion")
	if err != nil {
		return fail(err)
	}
	if sv != "1.0" {
		return fail(abacus.Errorf(abacus.CodeInvalid, "specversion", "%s is not supported; only CloudEvents 1.0 (\"1.0\") is", show(sv)))
	}
	if !binary { // headers, which carry binary mode's, have no case
		if err := o.caseVariant(cloudEventAttributes, ""); err != nil {
			return fail(err)
		}
		// Beside the attributes, a CSGHub field in any case would be
		// ignored, and the usage it says lost (QA: a top-level value of
		// 500 was charged as data's 1; so was "Value").
		for _, m := range o {
			if slices.ContainsFunc(csghubNames[:], func(n string) bool { return strings.EqualFold(m.key, n) }) {
				return fail(abacus.Errorf(abacus.CodeInvalid, m.key, "is a CSGHub field beside the CloudEvent's attributes: a CloudEvent carries usage in data, "+
					"and its id, subject and time stand for uuid, user_uuid and created_at"))
			}
		}
	}
	if idErr != nil {
		return fail(idErr)
	}
	if _, err := idv.str("id"); err != nil {
		return fail(err)
	}
	if !idv.present || idv.s == "" {
		return fail(abacus.Errorf(abacus.CodeInvalid, "id", "is required: every event needs a unique id"))
	}
	if _, ok, _ := o.lookup("data_base64"); ok {
		return fail(abacus.Errorf(abacus.CodeInvalid, "data_base64", "is not supported: send the usage as a JSON object in \"data\""))
	}
	dct, err := o.field("datacontenttype", "datacontenttype")
	if err != nil {
		return fail(err)
	}
	if dct.present {
		s, err := dct.ownStr("datacontenttype")
		if err != nil {
			return fail(err)
		}
		// Its charset too, as binary mode's ce-datacontenttype (QA: latin1
		// was taken here, refused there).
		if mt, params, perr := mime.ParseMediaType(s); perr != nil || mt != ContentTypeJSON || utf8Charset(params) != nil {
			return fail(abacus.Errorf(abacus.CodeInvalid, "datacontenttype", "%s is not supported; data must be %s, in UTF-8", show(s), ContentTypeJSON))
		}
	}
	for _, attr := range []string{"source", "type"} {
		v, err := o.field(attr, attr)
		if err != nil {
			return fail(err)
		}
		s, err := v.ownStr(attr)
		if err != nil {
			return fail(err)
		}
		if s == "" {
			return fail(abacus.Errorf(abacus.CodeInvalid, attr, "is required by CloudEvents 1.0"))
		}
	}
	subject, err := o.field("subject", "subject")
	if err != nil {
		return fail(err)
	}
	tm, err := o.field("time", "time")
	if err != nil {
		return fail(err)
	}
	dv, err := o.field("data", "data")
	if err != nil {
		return fail(err)
	}
	if !dv.present {
		return fail(abacus.Errorf(abacus.CodeInvalid, "data", "is required: a JSON object with value, value_type, scene, resource_id …"))
	}
	if dv.kind != kindObject {
		return fail(typeError("data", "a JSON object", dv))
	}
	data, _ := readObject(dv.raw)
	if data == nil {
		return fail(abacus.Errorf(abacus.CodeInvalid, "data", "is not a valid JSON object"))
	}

	names := [nFields]string{}
	var f [nFields]value
	for i, n := range csghubNames {
		names[i] = "data." + n
		if f[i], err = data.field(n, names[i]); err != nil {
			return fail(err)
		}
	}
	if err := data.caseVariant(csghubNames[:], "data."); err != nil {
		return fail(err)
	}
	dataUUID, dataUser, dataTime := f[fUUID], f[fUserUUID], f[fCreatedAt]
	f[fUUID], names[fUUID] = idv, "id"
	if subject.present || !dataUser.present {
		f[fUserUUID], names[fUserUUID] = subject, "subject"
	}
	if tm.present || !dataTime.present {
		f[fCreatedAt], names[fCreatedAt] = tm, "time"
	}
	ev, err := buildEvent(&f, &names)
	if err != nil {
		return fail(err)
	}
	// The data may repeat the CSGHub fields that CloudEvents attributes
	// carry; then they must say the same.
	if dataUUID.present {
		s, err := dataUUID.str("data.uuid")
		if err != nil {
			return fail(err)
		}
		if abacus.CanonicalEventID(s) != abacus.CanonicalEventID(id) {
			return fail(abacus.Errorf(abacus.CodeInvalid, "data.uuid", "%s does not match the event id %s", show(s), show(id)))
		}
	}
	if dataUser.present && names[fUserUUID] == "subject" {
		s, err := dataUser.str("data.user_uuid")
		if err != nil {
			return fail(err)
		}
		if !canonEqual(s, string(ev.Account)) {
			return fail(abacus.Errorf(abacus.CodeInvalid, "data.user_uuid", "%s does not match %s %s", show(s), attrName("subject"), show(string(ev.Account))))
		}
	}
	if dataTime.present && names[fCreatedAt] == "time" {
		t, err := dataTime.time("data.created_at")
		if err != nil {
			return fail(err)
		}
		if !t.t.Equal(ev.Time) {
			return fail(abacus.Errorf(abacus.CodeInvalid, "data.created_at", "%s does not match %s %s", show(dataTime.s), attrName("time"), show(tm.s)))
		}
	}
	return finish(ev, id, nil, &names)
}
