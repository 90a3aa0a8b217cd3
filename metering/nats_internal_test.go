package metering

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"
)

func TestSubjectCovers(t *testing.T) {
	for _, c := range []struct {
		pattern, subject string
		want             bool
	}{
		{"accounting.metering.duration", "accounting.metering.duration", true},
		{"accounting.metering.*", "accounting.metering.duration", true},
		{"accounting.>", "accounting.metering.duration", true},
		{">", "accounting", true},
		{"accounting.metering.>", "accounting.metering.>", true},
		{"accounting.metering.>", "accounting.metering.*", true},
		{"accounting.metering.*", "accounting.metering.>", false},
		{"accounting.metering.*", "accounting.metering.*", true},
		{"accounting.*.duration", "accounting.metering.*", false},
		{"accounting.metering.token", "accounting.metering.duration", false},
		{"accounting.metering", "accounting.metering.duration", false},
		{"accounting.metering.duration.x", "accounting.metering.duration", false},
		{"accounting.>", "accounting", false},
	} {
		if got := subjectCovers(c.pattern, c.subject); got != c.want {
			t.Errorf("subjectCovers(%q, %q) = %v, want %v", c.pattern, c.subject, got, c.want)
		}
	}
}

func TestValidSubject(t *testing.T) {
	for s, want := range map[string]bool{
		"accounting.metering.duration": true, "a.*.c": true, "a.>": true, ">": true,
		"": false, "a..b": false, "a.>.b": false, "a.b*": false, "a b": false, ".a": false,
	} {
		if got := validSubject(s); got != want {
			t.Errorf("validSubject(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestClip(t *testing.T) {
	if s := clip("short"); s != "short" {
		t.Fatal(s)
	}
	long := strings.Repeat("é", maxReason)
	s := clip(long)
	if len(s) > maxReason || !utf8.ValidString(s) || !strings.HasSuffix(s, "…") {
		t.Fatalf("clip: %d bytes, valid %v", len(s), utf8.ValidString(s))
	}
}

// TestReasonOf: a dead letter's reasons are kept whole as far as they fit,
// and the rest are counted (QA: 29 of 100, then "…").
func TestReasonOf(t *testing.T) {
	if got := reasonOf([]string{"[0] a", "[1] b"}); got != "[0] a; [1] b" {
		t.Fatal(got)
	}
	var many []string
	for i := range 100 {
		many = append(many, fmt.Sprintf("[%d] value: must be a whole number, not %s", i, strings.Repeat("9", 100)))
	}
	got := reasonOf(many)
	kept := strings.Count(got, "value:")
	if len(got) > maxReason || kept < 20 || !strings.HasSuffix(got, fmt.Sprintf("; … and %d more", 100-kept)) || strings.Contains(got, "9…") {
		t.Fatalf("%d bytes, %d kept: …%s", len(got), kept, got[max(0, len(got)-80):])
	}
	huge := reasonOf([]string{strings.Repeat("é", maxReason), "[1] b"})
	if len(huge) > maxReason || !utf8.ValidString(huge) || !strings.HasSuffix(huge, "…; … and 1 more") {
		t.Fatalf("%d bytes: …%s", len(huge), huge[len(huge)-40:])
	}
}

func TestIntersect(t *testing.T) {
	for _, c := range []struct{ a, b, want string }{
		{"accounting.metering.>", "accounting.metering.token", "accounting.metering.token"},
		{"accounting.>", "accounting.metering.*", "accounting.metering.*"},
		{"accounting.*.quota", "accounting.metering.*", "accounting.metering.quota"},
		{"accounting.metering.*", "accounting.*.quota", "accounting.metering.quota"},
		{">", ">", ">"},
		{"a.>", "a.*.>", "a.*.>"},
		{"accounting.metering.token", "accounting.metering.token", "accounting.metering.token"},
		{"accounting.metering.token", "accounting.metering.quota", ""},
		{"accounting.metering.>", "accounting.metering", ""},
		{"accounting.*", "accounting.metering.token", ""},
		{"accounting.fee.>", "accounting.metering.>", ""},
	} {
		got, ok := intersect(c.a, c.b)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("intersect(%q, %q) = %q, %v, want %q", c.a, c.b, got, ok, c.want)
		}
	}
}

func TestParseSubjects(t *testing.T) {
	for in, want := range map[string]string{
		DefaultSubjects:                    DefaultSubjects,
		" a.b , a.c ":                      "a.b,a.c",
		"a.b,a.b":                          "a.b",
		"a.b,a.>,a.*":                      "a.>",
		"a.*,a.b":                          "a.*",
		"accounting.metering.>":            "accounting.metering.>",
		"a.b,":                             "error",
		",":                                "error",
		"a.b,a c":                          "error",
		"accounting.metering.duration;x.y": "accounting.metering.duration;x.y", // one subject, as NATS has it
	} {
		fs, err := parseSubjects(in)
		got := strings.Join(fs, ",")
		if err != nil {
			got = "error"
		}
		if got != want {
			t.Errorf("parseSubjects(%q) = %q (%v), want %q", in, got, err, want)
		}
	}
}

func TestPlan(t *testing.T) {
	csg := []string{"accounting.metering.duration", "accounting.metering.token", "accounting.metering.quota"}
	def, _ := parseSubjects(DefaultSubjects)
	for _, c := range []struct {
		name             string
		stream, want     []string
		filters, missing string
		whole            bool
	}{
		{"CSGHub's stream", csg, def, DefaultSubjects, "", true},
		{"an old abacus's stream", csg[:1], def, "accounting.metering.duration", "accounting.metering.token,accounting.metering.quota", true},
		{"a wildcard over CSGHub's stream", csg, []string{"accounting.metering.>"}, DefaultSubjects, "", true},
		{"a stream wider than the filter", []string{"accounting.>"}, []string{"accounting.metering.>"}, "accounting.metering.>", "", false},
		{"the defaults on a wide stream", []string{"accounting.>"}, def, DefaultSubjects, "", false},
		{"two of three", csg, []string{"accounting.metering.token", "accounting.metering.quota"}, "accounting.metering.token,accounting.metering.quota", "", false},
		{"nothing captured", csg, []string{"accounting.fee.credit"}, "", "accounting.fee.credit", false},
		{"a mirror", nil, def, DefaultSubjects, "", false},
	} {
		filters, missing, whole := plan(c.stream, c.want)
		if strings.Join(filters, ",") != c.filters || strings.Join(missing, ",") != c.missing || whole != c.whole {
			t.Errorf("%s: plan = %v, %v, %v; want %s, %s, %v", c.name, filters, missing, whole, c.filters, c.missing, c.whole)
		}
	}
}

func TestVersionAtLeast(t *testing.T) {
	for v, want := range map[string]bool{"2.9.10": false, "2.10.0": true, "2.15.2": true, "3.0.0": true, "1.11.0": false, "": false, "2.10.0-beta.1": true} {
		if got := versionAtLeast(v, 2, 10); got != want {
			t.Errorf("versionAtLeast(%q, 2, 10) = %v", v, got)
		}
	}
}

// TestStuckWatch: the ack floor staying put with messages pending stops
// the consumer after the limit, but not while this process hands messages
// back (a database that fails keeps the floor too), nor with nothing
// pending; a floor that moves, or a time NATS or the database could not
// be reached, starts the count again.
func TestStuckWatch(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	at := func(floor, pending uint64) *jetstream.ConsumerInfo {
		return &jetstream.ConsumerInfo{Name: "d", NumAckPending: int(pending), AckFloor: jetstream.SequenceInfo{Stream: floor}}
	}
	var w stuckWatch
	for i, c := range []struct {
		info    *jetstream.ConsumerInfo
		retried int64
		minutes int
		stuck   bool
	}{
		{at(10, 1), 0, 0, false},
		{at(10, 1), 0, 10, false},
		{at(10, 1), 0, 15, true},
		{at(11, 1), 0, 16, false}, // it moved
		{at(11, 1), 3, 30, false}, // handed back meanwhile
		{at(11, 1), 3, 44, false},
		{at(11, 1), 3, 45, true},
		{at(11, 0), 3, 60, false}, // nothing pending
		{at(11, 2), 3, 70, false},
		{at(11, 2), 3, 85, true},
		{at(12, 1), 3, 90, false},
		{at(12, 1), 3, -1, false}, // NATS or the database out of reach (unknown)
		{at(12, 1), 3, 104, false},
		{at(12, 1), 3, 118, false},
		{at(12, 1), 3, 119, true},
	} {
		if c.minutes < 0 {
			w.unknown()
			continue
		}
		err := w.stuck(c.info, c.retried, t0.Add(time.Duration(c.minutes)*time.Minute), stuckAfter)
		if (err != nil) != c.stuck {
			t.Errorf("%d: at minute %d: %v, want stuck %v", i, c.minutes, err, c.stuck)
		}
	}
}
