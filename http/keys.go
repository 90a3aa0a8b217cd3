package http

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode"

	"github.com/abacus-billing/abacus"
)

// checkKeys refuses the first key of a JSON text, naming it by its path
// ("postings[1].amount"), that is given twice in its object, or that is
// not lower case ASCII, as every field of a request is. encoding/json
// keeps the last value of a key given twice, so {"amount":"1",
// "amount":"1000"} would move 1000 where the sender may have meant either;
// and it matches keys to fields whatever their case ("AMOUNT", and
// "\u212a" for k), so keys that differ only so are one key too, and one
// such key alone, which DisallowUnknownFields lets through, is a field
// spelled otherwise (QA: {"AMOUNT":"2"} was read as amount), as a usage
// event refuses it. A text that is not valid JSON has none: decoding it
// says what is wrong.
func checkKeys(body []byte) error {
	seen := map[string]bool{} // the objects' paths and their keys, folded
	var err error
	walkJSON(body, func(t jsonToken) bool {
		if !t.key {
			return true
		}
		k := t.tok.(string)
		member := t.parent + "\x00" + foldKey(k)
		switch {
		case seen[member]:
			err = abacus.Errorf(abacus.CodeInvalid, t.path, "appears more than once in the object; send it once")
		case !lowerASCII(k):
			err = abacus.Errorf(abacus.CodeInvalid, t.path, "%q is not a field: fields are named in lower case ASCII, and a key in another case, which encoding/json would take for the field, is refused", k)
		default:
			seen[member] = true
			return true
		}
		return false
	})
	return err
}

func lowerASCII(k string) bool {
	for i := 0; i < len(k); i++ {
		if c := k[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// fieldAt names the value of a valid JSON text that holds its byte at:
// its path, or the path of the object whose key holds it ("body" for the
// text's own).
func fieldAt(body []byte, at int) string {
	field := "body"
	walkJSON(body, func(t jsonToken) bool {
		if t.end <= int64(at) {
			return true
		}
		path := t.path
		if t.key {
			path = t.parent
		}
		if path != "" {
			field = path
		}
		return false
	})
	return field
}

// jsonToken is a token of a JSON text as walkJSON reads it.
type jsonToken struct {
	tok    json.Token
	path   string // of the value it is or opens; a key's, of its member
	parent string // of the object or array it is in
	key    bool   // an object's key
	end    int64  // the offset just past it
}

// walkJSON calls visit with each token of body, a valid JSON text, in
// order, until visit returns false.
func walkJSON(body []byte, visit func(jsonToken) bool) {
	if !json.Valid(body) {
		return
	}
	type frame struct {
		path    string
		object  bool
		key     string // the member whose value comes next
		wantKey bool
		index   int
	}
	var stack []*frame
	// child is the path of the value that comes next.
	child := func() string {
		if len(stack) == 0 {
			return ""
		}
		top := stack[len(stack)-1]
		if top.object {
			if top.path == "" {
				return top.key
			}
			return top.path + "." + top.key
		}
		return top.path + "[" + strconv.Itoa(top.index) + "]"
	}
	parent := func() string {
		if len(stack) == 0 {
			return ""
		}
		return stack[len(stack)-1].path
	}
	// done moves past the value just read.
	done := func() {
		if len(stack) == 0 {
			return
		}
		if top := stack[len(stack)-1]; top.object {
			top.wantKey = true
		} else {
			top.index++
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return
		}
		t := jsonToken{tok: tok, parent: parent(), end: dec.InputOffset()}
		if len(stack) > 0 {
			if top := stack[len(stack)-1]; top.object && top.wantKey {
				if key, ok := tok.(string); ok {
					top.key, top.wantKey = key, false
					t.path, t.key = child(), true
					if !visit(t) {
						return
					}
					continue
				}
			}
		}
		t.path = child()
		if !visit(t) {
			return
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{path: t.path, object: true, wantKey: true})
		case json.Delim('['):
			stack = append(stack, &frame{path: t.path})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			done()
		default:
			done()
		}
	}
}

// foldKey spells a key as every key that equals it under Unicode case
// folding does, as encoding/json compares them: each letter becomes the
// least of its case-fold orbit.
func foldKey(s string) string {
	var b strings.Builder
	for _, r := range s {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(least)
	}
	return b.String()
}
