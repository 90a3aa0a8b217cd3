package rating

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/abacus-billing/abacus/internal/jsontext"
)

// A node is one value of a price file, YAML or JSON, with the line it is
// on. Both formats are read into nodes, so one decoder serves both and
// every error can name a line.
type node struct {
	kind     nodeKind
	line     int
	tag      scalarTag // scalars
	text     string    // scalars: the text exactly as written
	keys     []string  // maps, in order
	keyLines []int     // maps: the line of each key
	vals     []*node   // maps
	items    []*node   // lists
}

type nodeKind uint8

const (
	scalarNode nodeKind = iota + 1
	mapNode
	listNode
)

type scalarTag uint8

const (
	tagString scalarTag = iota + 1 // a quoted YAML scalar, a plain YAML string, a JSON string
	tagNumber                      // a plain YAML int or float, a JSON number
	tagBool
	tagNull
	tagOther // a plain YAML timestamp, binary, …
)

func (n *node) describe() string {
	switch n.kind {
	case mapNode:
		return "a mapping"
	case listNode:
		return "a list"
	}
	switch n.tag {
	case tagString:
		return "the string " + clip(n.text)
	case tagBool:
		return n.text
	case tagNull:
		return "null"
	}
	return clip(n.text)
}

// get returns the value under key and the key's line, or nil.
func (n *node) get(key string) (*node, int) {
	for i, k := range n.keys {
		if k == key {
			return n.vals[i], n.keyLines[i]
		}
	}
	return nil, 0
}

// lineOf returns the line of the element a field path such as
// "tiers[1].up_to" names under n: the line of its key or list item, or of
// the deepest enclosing element that exists.
func (n *node) lineOf(path string) int {
	line := n.line
	cur := n
	for _, step := range strings.Split(path, ".") {
		if step == "" || cur == nil {
			break
		}
		name, rest, _ := strings.Cut(step, "[")
		if name != "" {
			if cur.kind != mapNode {
				return line
			}
			v, l := cur.get(name)
			if v == nil {
				return line
			}
			cur, line = v, l
		}
		for rest != "" {
			idx, after, ok := strings.Cut(rest, "]")
			if !ok {
				return line
			}
			i, err := strconv.Atoi(idx)
			if err != nil || cur.kind != listNode || i < 0 || i >= len(cur.items) {
				return line
			}
			cur = cur.items[i]
			line = cur.line
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return line
}

// parseYAML reads one YAML document into nodes.
func parseYAML(data []byte) (*node, int, error) {
	// yaml.v3 refuses it without a line (QA).
	if !utf8.Valid(data) {
		at := len(data)
		for i := 0; i < len(data); {
			r, n := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && n == 1 {
				at = i
				break
			}
			i += n
		}
		return nil, 1 + bytes.Count(data[:at], []byte("\n")), errors.New("invalid YAML: a byte that is not UTF-8")
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, 0, nil
		}
		line, msg := yamlErrorLine(err)
		return nil, line, errors.New(msg)
	}
	var more yaml.Node
	switch err := dec.Decode(&more); {
	case errors.Is(err, io.EOF):
	case err != nil:
		line, msg := yamlErrorLine(err)
		return nil, line, errors.New(msg)
	default:
		return nil, more.Line, errors.New("a price file holds one YAML document")
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil, 0, nil
		}
		root = root.Content[0]
	}
	return fromYAML(root)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlParserProblems are the messages of yaml.v3's parser (as opposed to
// its scanner). yaml.v3 reports the line of a parser error 0-based (and at
// the start of the enclosing construct), so those lines need one added.
var yamlParserProblems = []string{
	"did not find expected <", "did not find expected node content", "did not find expected key",
	"did not find expected '-' indicator", "did not find expected ',' or ", "found undefined tag handle",
	"found duplicate %", "found incompatible YAML document",
}

func yamlErrorLine(err error) (int, string) {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		for _, p := range yamlParserProblems {
			if strings.HasPrefix(m[2], p) {
				return n + 1, "invalid YAML: " + m[2] + " (in the block or flow collection that starts on this line)"
			}
		}
		return n, "invalid YAML: " + m[2]
	}
	return 0, "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")
}

func fromYAML(y *yaml.Node) (*node, int, error) {
	n := &node{line: y.Line}
	switch y.Kind {
	case yaml.ScalarNode:
		n.kind, n.text = scalarNode, y.Value
		switch y.ShortTag() {
		case "!!str":
			n.tag = tagString
		case "!!int", "!!float":
			n.tag = tagNumber
		case "!!bool":
			n.tag = tagBool
		case "!!null":
			n.tag = tagNull
		default:
			n.tag = tagOther
		}
	case yaml.MappingNode:
		n.kind = mapNode
		for i := 0; i+1 < len(y.Content); i += 2 {
			k, v := y.Content[i], y.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return nil, k.Line, errors.New("a mapping key must be a plain name")
			}
			for _, seen := range n.keys {
				if seen == k.Value {
					return nil, k.Line, fmt.Errorf("the key %q is given twice", k.Value)
				}
			}
			val, line, err := fromYAML(v)
			if err != nil {
				return nil, line, err
			}
			n.keys = append(n.keys, k.Value)
			n.keyLines = append(n.keyLines, k.Line)
			n.vals = append(n.vals, val)
		}
	case yaml.SequenceNode:
		n.kind = listNode
		for _, item := range y.Content {
			val, line, err := fromYAML(item)
			if err != nil {
				return nil, line, err
			}
			n.items = append(n.items, val)
		}
	case yaml.AliasNode:
		return nil, y.Line, errors.New("YAML aliases (*name) are not supported in price files: write the value out")
	default:
		return nil, y.Line, errors.New("unexpected YAML content")
	}
	return n, 0, nil
}

// parseJSON reads one JSON value into nodes.
func parseJSON(data []byte) (*node, int, error) {
	p := &jsonParser{data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	p.dec.UseNumber()
	for i, c := range data {
		if c == '\n' {
			p.lineStarts = append(p.lineStarts, i+1)
		}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, 0, nil
	}
	n, err := p.value(0)
	if err != nil {
		return nil, p.errLine(err), p.errMessage(err)
	}
	if tok, err := p.dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, p.errLine(err), p.errMessage(err)
		}
		return nil, p.lineAt(p.dec.InputOffset() - 1), fmt.Errorf("invalid JSON: unexpected %v after the top-level value", tok)
	}
	// Valid JSON, whose strings encoding/json has decoded with U+FFFD for
	// what is not UTF-8: a resource id so changed would match no event, and
	// its usage would go unpriced without a word (QA). YAML refuses it.
	if at, bad := jsontext.BadString(data); bad {
		return nil, p.lineAt(int64(at)), errors.New("invalid JSON: a string holds bytes that are not UTF-8, or half of an escaped surrogate pair")
	}
	return n, 0, nil
}

type jsonParser struct {
	data       []byte
	dec        *json.Decoder
	lineStarts []int // offsets where lines 2, 3, … start
}

const maxDepth = 64

// lineAt returns the 1-based line of byte offset off.
func (p *jsonParser) lineAt(off int64) int {
	return 1 + sort.Search(len(p.lineStarts), func(i int) bool { return int64(p.lineStarts[i]) > off })
}

type jsonError struct {
	line int
	msg  string
}

func (e *jsonError) Error() string { return e.msg }

func (p *jsonParser) errLine(err error) int {
	var je *jsonError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &je):
		return je.line
	case errors.As(err, &se):
		return p.lineAt(se.Offset - 1)
	}
	return p.lineAt(int64(len(p.data)) - 1)
}

func (p *jsonParser) errMessage(err error) error {
	var je *jsonError
	if errors.As(err, &je) {
		return err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return errors.New("invalid JSON: unexpected end of file")
	}
	return fmt.Errorf("invalid JSON: %v", err)
}

func (p *jsonParser) value(depth int) (*node, error) {
	if depth > maxDepth {
		return nil, &jsonError{p.lineAt(p.dec.InputOffset() - 1), "the JSON is nested too deeply"}
	}
	tok, err := p.dec.Token()
	if err != nil {
		return nil, err
	}
	n := &node{line: p.lineAt(p.dec.InputOffset() - 1)}
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			n.kind = mapNode
			for p.dec.More() {
				kt, err := p.dec.Token()
				if err != nil {
					return nil, err
				}
				key, _ := kt.(string)
				kline := p.lineAt(p.dec.InputOffset() - 1)
				if _, l := n.get(key); l != 0 {
					return nil, &jsonError{kline, fmt.Sprintf("the key %q is given twice", key)}
				}
				val, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, key)
				n.keyLines = append(n.keyLines, kline)
				n.vals = append(n.vals, val)
			}
		case '[':
			n.kind = listNode
			for p.dec.More() {
				val, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.items = append(n.items, val)
			}
		}
		if _, err := p.dec.Token(); err != nil { // the closing delimiter
			return nil, err
		}
	case string:
		n.kind, n.tag, n.text = scalarNode, tagString, v
	case json.Number:
		n.kind, n.tag, n.text = scalarNode, tagNumber, string(v)
	case bool:
		n.kind, n.tag, n.text = scalarNode, tagBool, strconv.FormatBool(v)
	case nil:
		n.kind, n.tag, n.text = scalarNode, tagNull, "null"
	}
	return n, nil
}
