package metering

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// checkTransforms refuses a stream that stores some of what filters take
// under subjects none of them takes: a durable's filters match the
// subjects messages are stored under, and a subject transform (of the
// stream, or of a stream it mirrors or takes as a source) stores them
// under others, so a durable filtered on the captured names is delivered
// none of them (QA: events stayed in the stream, never delivered, without
// a word). A durable of the whole stream has no filter and takes them as
// they are; a transform into subjects the filters take is no matter.
func (c *Consumer) checkTransforms(cfg jetstream.StreamConfig, filters []string) error {
	type transform struct{ src, dest, of string }
	var ts []transform
	if t := cfg.SubjectTransform; t != nil {
		ts = append(ts, transform{t.Source, t.Destination, "its subject transform"})
	}
	for _, src := range append(slices.Clone(cfg.Sources), cfg.Mirror) {
		if src == nil {
			continue
		}
		for _, t := range src.SubjectTransforms {
			ts = append(ts, transform{t.Source, t.Destination, "the subject transform of its source " + src.Name})
		}
	}
	for _, t := range ts {
		if t.dest == "" {
			continue // no transform: a source's filter alone (nats-server's NewSubjectTransform)
		}
		from := cmp.Or(t.src, ">") // an empty source is every subject
		var moved []string
		for _, f := range filters {
			if x, ok := intersect(from, f); ok {
				moved = append(moved, x)
			}
		}
		into := templated.ReplaceAllString(t.dest, "*")
		if len(moved) == 0 || slices.ContainsFunc(filters, func(f string) bool { return coversPattern(f, into) }) {
			continue
		}
		return unusableError{fmt.Errorf("metering: stream %s stores %s under %s (%s %s → %s), which abacus's durable, filtered on %s, would never be delivered; "+
			"give the usage a stream without that transform, or one all of whose subjects abacus takes (its durable then takes the stream whole, as it is stored)",
			c.cfg.Stream, strings.Join(moved, ", "), t.dest, t.of, from, t.dest, strings.Join(filters, ", "))}
	}
	return nil
}

// coversPattern tells whether every subject of pattern p (which may hold
// wildcards) is within filter f: subjectCovers, but a ">" of p's is within
// only a ">" of f's.
func coversPattern(f, p string) bool {
	if !strings.HasSuffix(p, ">") {
		return subjectCovers(f, p)
	}
	ft, pt := strings.Split(f, "."), strings.Split(p, ".")
	return ft[len(ft)-1] == ">" && len(ft) <= len(pt) && subjectCovers(f, p)
}

// templated matches a transform destination's mapping functions
// ({{wildcard(1)}}, {{partition(3,1)}}): any token, as far as a filter can tell.
var templated = regexp.MustCompile(`\{\{[^}]*\}\}`)
