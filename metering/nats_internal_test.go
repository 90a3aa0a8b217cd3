package metering

import (
	"strings"
	"testing"
	"unicode/utf8"
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
