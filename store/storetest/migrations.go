package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/abacus-billing/abacus"
)

// CheckNettedVoids checks what migration 0013 made of the events each
// dialect's TestMigrationNetsOldVoids stored before it: voided with their
// charge's split kept, "whole" (16 drawn 6 cash, 10 voucher; 16 back),
// "part" (the same; 12 back), "beyond" (8 voucher; 12 back), "cost" (-2
// cash; -2 back), and "kept", charged as "whole" and not voided.
func CheckNettedVoids(t *testing.T, s abacus.Store) {
	t.Helper()
	evs, err := s.Events(context.Background(), abacus.EventQuery{IDs: []string{"whole", "part", "beyond", "cost", "kept"}, Limit: 6})
	if err != nil || len(evs) != 5 {
		t.Fatalf("%+v %v", evs, err)
	}
	want := map[string]string{
		"whole": "0 0 0 true", "part": "1.5 0 2.5 true", "beyond": "-4 0 0 true", "cost": "0 0 0 true", "kept": "6 0 10 false",
	}
	for _, e := range evs {
		if got := fmt.Sprintf("%s %s %s %v", e.Drawn.Cash, e.Drawn.Bonus, e.Drawn.Voucher, e.DrawnEstimated); got != want[e.ID] {
			t.Errorf("event %s: cash, bonus, voucher, estimated %s; want %s", e.ID, got, want[e.ID])
		}
	}
}
