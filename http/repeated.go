package http

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// repeatedKey finds a key given twice in one object of a JSON text and
// names it by its path ("postings[1].amount"). encoding/json keeps the
// last value of such a key, so {"amount":"1","amount":"1000"} would move
// 1000 where the sender may have meant either. A text that is not valid
// JSON has none: decoding it says what is wrong.
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
					if top.keys[key] {
						top.key = key
						return child(), true
					}
					top.keys[key], top.key, top.wantKey = true, key, false
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
