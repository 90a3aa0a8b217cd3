package main

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMinuteDedupeScenes: --minute-dedupe takes only scenes an event can
// have (0 to 999); any other is refused naming the flag.
func TestMinuteDedupeScenes(t *testing.T) {
	for value, want := range map[string][]int{"10,11, 12": {10, 11, 12}, "0,999": {0, 999}, "1000": nil, "10,1000": nil, "-1": nil, "x": nil} {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		read := usageFlags(fs)
		if err := fs.Parse([]string{"--minute-dedupe", value}); err != nil {
			t.Fatal(err)
		}
		c, err := read()
		if want == nil {
			if err == nil || !strings.HasPrefix(err.Error(), "--minute-dedupe: ") {
				t.Errorf("%q: %v, want an error naming --minute-dedupe", value, err)
			}
			continue
		}
		if err != nil || len(c.MinuteDedupe) != len(want) {
			t.Errorf("%q: %v %v", value, c.MinuteDedupe, err)
		}
		for _, s := range want {
			if !c.MinuteDedupe[s] {
				t.Errorf("%q: scene %d missing from %v", value, s, c.MinuteDedupe)
			}
		}
	}
}

// TestServeRefusesSceneOver999: serve stops at startup, before it creates
// the database, with an error naming the flag.
func TestServeRefusesSceneOver999(t *testing.T) {
	db := filepath.Join(t.TempDir(), "a.db")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second) // a serve that starts would never return
	defer cancel()
	outb, err := exec.CommandContext(ctx, binary, "serve", "--db", db, "--addr", "127.0.0.1:0", "--minute-dedupe", "10,1000").CombinedOutput()
	out := string(outb)
	if err == nil || !strings.Contains(out, `--minute-dedupe: "1000" is not a scene number`) {
		t.Fatalf("%v\n%s", err, out)
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Fatalf("serve created the database before refusing: %v", err)
	}
}
