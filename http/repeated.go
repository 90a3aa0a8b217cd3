package http

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode"
)

// repeatedKey finds a key given twice in one object of a JSON text and
// names it by its path ("postings[1].amount"). encoding/json keeps the
// last value of such a key, so {"amount":"1","amount":"1000"} would move
// 1000 where the sender may have meant either; and it matches keys to
// fields whatever their case ("AMOUNT", and "\u212a" for k), so keys
// that differ only so are one key too. A text that is not valid JSON has
// none: decoding it says what is wrong.
func repeatedKey(body []byte) (string, bool) {
	if !json.Valid(body) {
		return "", false
	}
	type frame struct {
		path    string
		object  bool
		keys    map[string]bool
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
			return "", false
		}
		if len(stack) > 0 {
			if top := stack[len(stack)-1]; top.object && top.wantKey {
				if key, ok := tok.(string); ok {
					folded := foldKey(key)
					if top.keys[folded] {
						top.key = key
						return child(), true
					}
					top.keys[folded], top.key, top.wantKey = true, key, false
					continue
				}
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{path: child(), object: true, keys: map[string]bool{}, wantKey: true})
		case json.Delim('['):
			stack = append(stack, &frame{path: child()})
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
