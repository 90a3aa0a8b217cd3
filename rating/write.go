package rating

import (
	"bufio"
	"encoding/json"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/shopspring/decimal"
	"gopkg.in/yaml.v3"
)

// WriteFile writes prices and commitments as a price file that ParseFile
// reads back to the same values: JSON when name ends in .json, YAML
// otherwise. Amounts are written as decimal strings, times in RFC 3339
// with their offset, and fields at their defaults (model aside) are left
// out. It does not validate: write what NewBook accepted.
func WriteFile(w io.Writer, name string, prices []abacus.Price, commitments []abacus.Commitment) error {
	root := &node{kind: mapNode}
	pl := &node{kind: listNode}
	for i := range prices {
		pl.items = append(pl.items, priceNode(&prices[i]))
	}
	root.set("prices", pl)
	if len(commitments) > 0 {
		cl := &node{kind: listNode}
		for _, c := range commitments {
			cn := &node{kind: mapNode}
			cn.set("account", str(string(c.Account)))
			cn.set("months", num(int64(c.Months)))
			cn.set("from", str(formatTime(c.From)))
			cn.set("until", str(formatTime(c.Until)))
			if !c.Ended.IsZero() {
				cn.set("ended", str(formatTime(c.Ended)))
			}
			cl.items = append(cl.items, cn)
		}
		root.set("commitments", cl)
	}
	if strings.EqualFold(filepath.Ext(name), ".json") {
		bw := bufio.NewWriter(w)
		writeJSON(bw, root, "")
		bw.WriteString("\n")
		return bw.Flush()
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(toYAML(root)); err != nil {
		return err
	}
	return enc.Close()
}

func priceNode(p *abacus.Price) *node {
	n := &node{kind: mapNode}
	n.set("sku_type", num(int64(p.SKUType)))
	n.set("sku_kind", num(int64(p.SKUKind)))
	n.set("resource_id", str(p.ResourceID))
	n.set("sku_unit", num(p.Unit))
	n.set("sku_unit_type", str(p.UnitType))
	n.set("currency", str(string(p.Currency)))
	n.set("valid_from", str(formatTime(p.ValidFrom)))
	n.set("model", str(string(p.Model)))
	switch p.Model {
	case abacus.ModelPerUnit, abacus.ModelPackage:
		n.set("sku_price", dec(p.UnitPrice))
	}
	if p.CachedPrice.Valid {
		n.set("sku_cached_price", dec(p.CachedPrice.Decimal))
	}
	if p.Model == abacus.ModelPackage {
		n.set("package", num(p.Package))
	}
	if len(p.Tiers) > 0 {
		l := &node{kind: listNode}
		for _, t := range p.Tiers {
			tn := &node{kind: mapNode}
			if t.UpTo != 0 {
				tn.set("up_to", num(t.UpTo))
			}
			tn.set("price", dec(t.UnitPrice))
			if !t.FlatFee.IsZero() {
				tn.set("flat_fee", dec(t.FlatFee))
			}
			l.items = append(l.items, tn)
		}
		n.set("tiers", l)
	}
	if len(p.Levels) > 0 {
		l := &node{kind: listNode}
		for _, b := range p.Levels {
			bn := &node{kind: mapNode}
			bn.set("level", num(int64(b.Level)))
			bn.set("price", dec(b.UnitPrice))
			l.items = append(l.items, bn)
		}
		n.set("levels", l)
	}
	if len(p.Discounts) > 0 {
		l := &node{kind: listNode}
		for _, d := range p.Discounts {
			dn := &node{kind: mapNode}
			dn.set("months", num(int64(d.Months)))
			dn.set("fraction", dec(d.Fraction))
			l.items = append(l.items, dn)
		}
		n.set("discounts", l)
	}
	if lic := p.License; lic != nil {
		ln := &node{kind: mapNode}
		ln.set("name", str(lic.Name))
		if lic.LongName != "" {
			ln.set("long_name", str(lic.LongName))
		}
		ln.set("type", str(lic.Type))
		if lic.UserMetric != "" {
			ln.set("user_metric", str(lic.UserMetric))
		}
		ln.set("burstable", &node{kind: scalarNode, tag: tagBool, text: strconv.FormatBool(lic.Burstable)})
		n.set("license", ln)
	}
	if p.Desc != "" {
		n.set("desc", str(p.Desc))
	}
	return n
}

func (n *node) set(key string, v *node) {
	n.keys = append(n.keys, key)
	n.keyLines = append(n.keyLines, 0)
	n.vals = append(n.vals, v)
}

func str(s string) *node { return &node{kind: scalarNode, tag: tagString, text: s} }
func num(v int64) *node {
	return &node{kind: scalarNode, tag: tagNumber, text: strconv.FormatInt(v, 10)}
}
func dec(d decimal.Decimal) *node { return str(formatDecimal(d)) }

// formatDecimal writes d in plain notation, never with an exponent.
func formatDecimal(d decimal.Decimal) string {
	if d.Exponent() >= 0 {
		return d.StringFixed(0)
	}
	return d.String()
}

func formatTime(t time.Time) string { return t.Format(time.RFC3339Nano) }

func toYAML(n *node) *yaml.Node {
	switch n.kind {
	case mapNode:
		y := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for i, k := range n.keys {
			y.Content = append(y.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}, toYAML(n.vals[i]))
		}
		if allScalars(n) && len(n.keys) <= 3 {
			y.Style = yaml.FlowStyle
		}
		return y
	case listNode:
		y := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, it := range n.items {
			y.Content = append(y.Content, toYAML(it))
		}
		return y
	}
	y := &yaml.Node{Kind: yaml.ScalarNode, Value: n.text}
	switch n.tag {
	case tagNumber:
		y.Tag = "!!int"
	case tagBool:
		y.Tag = "!!bool"
	default:
		y.Tag = "!!str"
		if decimalText.MatchString(n.text) {
			y.Style = yaml.DoubleQuotedStyle // amounts are strings, visibly
		}
	}
	return y
}

func allScalars(n *node) bool {
	for _, v := range n.vals {
		if v.kind != scalarNode {
			return false
		}
	}
	return true
}

func writeJSON(w *bufio.Writer, n *node, indent string) {
	switch n.kind {
	case mapNode:
		if len(n.keys) == 0 {
			w.WriteString("{}")
			return
		}
		w.WriteString("{\n")
		for i, k := range n.keys {
			w.WriteString(indent + "  ")
			writeJSONString(w, k)
			w.WriteString(": ")
			writeJSON(w, n.vals[i], indent+"  ")
			if i < len(n.keys)-1 {
				w.WriteString(",")
			}
			w.WriteString("\n")
		}
		w.WriteString(indent + "}")
	case listNode:
		if len(n.items) == 0 {
			w.WriteString("[]")
			return
		}
		w.WriteString("[\n")
		for i, it := range n.items {
			w.WriteString(indent + "  ")
			writeJSON(w, it, indent+"  ")
			if i < len(n.items)-1 {
				w.WriteString(",")
			}
			w.WriteString("\n")
		}
		w.WriteString(indent + "]")
	default:
		switch n.tag {
		case tagNumber, tagBool:
			w.WriteString(n.text)
		default:
			writeJSONString(w, n.text)
		}
	}
}

func writeJSONString(w *bufio.Writer, s string) {
	b, _ := json.Marshal(s) // a string always marshals
	w.Write(b)
}
