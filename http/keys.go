package http

import (
	"bytes"
	"cmp"
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
	var err error
	walkJSON(body, func(t *jsonWalk) bool {
		if !t.key {
			return true
		}
		k := t.tok.(string)
		switch {
		case k == "": // its path would end in nothing, naming no field (QA)
			err = abacus.Errorf(abacus.CodeInvalid, cmp.Or(t.parentPath(), "body"), `holds a key with no name (""), which is not a field`)
		case t.repeated:
			err = abacus.Errorf(abacus.CodeInvalid, t.path(), "appears more than once in the object; send it once")
		case !lowerASCII(k):
			err = abacus.Errorf(abacus.CodeInvalid, t.path(), "%q is not a field: fields are named in lower case ASCII letters, digits and _ (a key in another case, which encoding/json would take for a field, is refused)", k)
		default:
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
	walkJSON(body, func(t *jsonWalk) bool {
		if t.end <= int64(at) {
			return true
		}
		path := t.path()
		if t.key {
			path = t.parentPath()
		}
		if path != "" {
			field = path
		}
		return false
	})
	return field
}

// jsonWalk is where walkJSON is in a JSON text: the token just read, and
// the objects and arrays around it. Paths are spelled only when asked
// for, and each object keeps only its own keys: built for every token, a
// text of nested objects with long keys took memory by the square of its
// depth (QA: a body of 200 KB, 940 MB).
type jsonWalk struct {
	tok      json.Token
	key      bool  // an object's key
	repeated bool  // a key its object holds already, in any case
	end      int64 // the offset just past the token
	stack    []jsonFrame
}

type jsonFrame struct {
	object  bool
	key     string          // the member whose value comes next
	keys    map[string]bool // folded, of an object
	wantKey bool
	index   int
}

// path is the token's ("postings[1].amount"): of the value it is or
// opens, or, for a key, of its member.
func (w *jsonWalk) path() string {
	var b strings.Builder
	for i, f := range w.stack {
		switch {
		case !f.object:
			b.WriteString("[" + strconv.Itoa(f.index) + "]")
		case i > 0:
			b.WriteString("." + f.key)
		default:
			b.WriteString(f.key)
		}
	}
	return b.String()
}

// parentPath is the path of the object or array the token is in.
func (w *jsonWalk) parentPath() string {
	if len(w.stack) == 0 {
		return ""
	}
	outer := jsonWalk{stack: w.stack[:len(w.stack)-1]}
	return outer.path()
}

// walkJSON calls visit with each token of body, a valid JSON text, in
// order, until visit returns false.
func walkJSON(body []byte, visit func(*jsonWalk) bool) {
	if !json.Valid(body) {
		return
	}
	w := &jsonWalk{}
	// done moves past the value just read.
	done := func() {
		if len(w.stack) == 0 {
			return
		}
		if top := &w.stack[len(w.stack)-1]; top.object {
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
		w.tok, w.key, w.repeated, w.end = tok, false, false, dec.InputOffset()
		if len(w.stack) > 0 {
			if top := &w.stack[len(w.stack)-1]; top.object && top.wantKey {
				if key, ok := tok.(string); ok {
					folded := foldKey(key)
					top.key, top.wantKey = key, false
					w.key, w.repeated = true, top.keys[folded]
					top.keys[folded] = true
					if !visit(w) {
						return
					}
					continue
				}
			}
		}
		if !visit(w) {
			return
		}
		switch tok {
		case json.Delim('{'):
			w.stack = append(w.stack, jsonFrame{object: true, keys: map[string]bool{}, wantKey: true})
		case json.Delim('['):
			w.stack = append(w.stack, jsonFrame{})
		case json.Delim('}'), json.Delim(']'):
			w.stack = w.stack[:len(w.stack)-1]
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
