package rating_test

import (
	"errors"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/rating"
)

func TestCheckVolumeVersions(t *testing.T) {
	nov20 := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	dec1 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	vol := volume("v", abacus.PriceTier{UpTo: 100, UnitPrice: d("1")}, abacus.PriceTier{UnitPrice: d("0.1")})
	grad := graduated("v", abacus.PriceTier{UpTo: 100, UnitPrice: d("1")}, abacus.PriceTier{UnitPrice: d("0.1")})
	from := func(p abacus.Price, at time.Time) abacus.Price { p.ValidFrom = at; return p }
	revised := func(p abacus.Price, rev int) abacus.Price { p.Revision = rev; return p }
	other := from(vol, nov20)
	other.ResourceID = "w"
	for _, tc := range []struct {
		name          string
		stored, added []abacus.Price
		refused       int // index in added, or -1
	}{
		{"volume, then volume mid-month", []abacus.Price{vol}, []abacus.Price{from(vol, nov20)}, 0},
		{"graduated, then volume mid-month", []abacus.Price{grad}, []abacus.Price{from(grad, dec1), from(vol, nov20)}, 1},
		{"volume, then graduated mid-month", []abacus.Price{vol}, []abacus.Price{from(grad, nov20)}, 0},
		{"an earlier version added before a volume one from mid-month", []abacus.Price{from(vol, nov20)}, []abacus.Price{grad}, 0},
		{"a revision that makes a mid-month version volume", []abacus.Price{grad, from(grad, nov20)}, []abacus.Price{revised(from(vol, nov20), 1)}, 0},
		{"graduated, then graduated mid-month", []abacus.Price{grad}, []abacus.Price{from(grad, nov20)}, -1},
		{"volume from a month's start", []abacus.Price{vol}, []abacus.Price{from(vol, dec1)}, -1},
		{"a key's first version mid-month", nil, []abacus.Price{from(vol, nov20)}, -1},
		{"another key", []abacus.Price{vol}, []abacus.Price{other}, -1},
		{"a stored book from before the rule", []abacus.Price{vol, from(vol, nov20)}, []abacus.Price{from(vol, dec1)}, -1},
		{"a revision that makes a mid-month version graduated", []abacus.Price{grad, from(vol, nov20)}, []abacus.Price{revised(from(grad, nov20), 1)}, -1},
	} {
		err := rating.CheckVolumeVersions(tc.stored, tc.added)
		var ae *abacus.Error
		switch {
		case tc.refused < 0 && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.refused >= 0 && (!errors.As(err, &ae) || ae.Code != abacus.CodeInvalid || ae.Field != "prices["+string(rune('0'+tc.refused))+"].valid_from"):
			t.Errorf("%s: %v, want prices[%d].valid_from refused", tc.name, err, tc.refused)
		}
	}
}
