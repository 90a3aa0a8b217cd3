package store_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/abacus-billing/abacus/store"
)

// TestSettleCopies: of identical copies the one events name stays, else
// the first; copies that differ, or several of which events name, are
// refused, all of them named, with nothing removed.
func TestSettleCopies(t *testing.T) {
	c := func(id int64, key, content string, named bool) store.PriceCopy {
		return store.PriceCopy{ID: id, Key: key, Content: content, Named: named}
	}
	remove, err := store.SettleCopies([]store.PriceCopy{c(1, "a", "x", false), c(2, "a", "x", false), c(3, "b", "y", false), c(4, "b", "y", true)})
	if err != nil || !slices.Equal(remove, []int64{2, 3}) {
		t.Fatalf("%v %v", remove, err)
	}
	remove, err = store.SettleCopies([]store.PriceCopy{c(1, "a", "x", true), c(2, "a", "x", true), c(3, "b", "y", false), c(4, "b", "z", false), c(5, "c", "x", false), c(6, "c", "x", false)})
	if remove != nil || err == nil || !strings.Contains(err.Error(), "a: versions 1, 2 are each named by events; b: versions 3, 4 differ.") {
		t.Fatalf("%v %v", remove, err)
	}
}
