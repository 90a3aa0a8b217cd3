package rating_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/rating"
)

func TestCheckCountedVersions(t *testing.T) {
	aug1 := time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)
	sep15 := time.Date(2026, 9, 15, 0, 0, 0, 0, time.UTC)
	nov1 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	nov5 := time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC)
	nov15 := time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC)
	nov20 := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	dec1 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	vol := volume("v", abacus.PriceTier{UpTo: 100, UnitPrice: d("1")}, abacus.PriceTier{UnitPrice: d("0.1")})
	grad := graduated("v", abacus.PriceTier{UpTo: 100, UnitPrice: d("1")}, abacus.PriceTier{UnitPrice: d("0.1")})
	pack := pkg("v", "5", 100)
	unit := perUnit("v", "0.5", 1)
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
		{"graduated, then graduated mid-month", []abacus.Price{grad}, []abacus.Price{from(grad, nov20)}, 0},
		{"graduated, then volume mid-month", []abacus.Price{grad}, []abacus.Price{from(grad, dec1), from(vol, nov20)}, 1},
		{"package, then graduated mid-month", []abacus.Price{pack}, []abacus.Price{from(grad, nov20)}, 0},
		{"an earlier counted version before a counted one from mid-month", []abacus.Price{from(vol, sep15)}, []abacus.Price{from(vol, aug1)}, 0},
		{"volume, then per_unit mid-month", []abacus.Price{vol}, []abacus.Price{from(unit, nov20)}, -1},
		{"per_unit, then graduated mid-month", []abacus.Price{unit}, []abacus.Price{from(grad, nov20)}, -1},
		{"an earlier per_unit version before a volume one from mid-month", []abacus.Price{from(vol, sep15)}, []abacus.Price{from(unit, aug1)}, -1},
		{"counted versions from months' starts", []abacus.Price{vol}, []abacus.Price{from(grad, dec1)}, -1},
		{"a key's first version mid-month", nil, []abacus.Price{from(vol, nov20)}, -1},
		{"another key", []abacus.Price{vol}, []abacus.Price{other}, -1},
		{"a stored book from before the rule", []abacus.Price{vol, from(vol, nov20)}, []abacus.Price{from(vol, dec1)}, -1},
		{"a revision of a stored version from mid-month", []abacus.Price{vol, from(vol, nov20)}, []abacus.Price{revised(from(grad, nov20), 1)}, -1},
		{"a revision that makes a stored mid-month version per_unit", []abacus.Price{vol, from(vol, nov20)}, []abacus.Price{revised(from(unit, nov20), 1)}, -1},
		// Not only neighbours: a per_unit version between two counted ones
		// leaves both in the month.
		{"volume, per_unit, then volume in one month", []abacus.Price{from(vol, nov1)}, []abacus.Price{from(unit, nov5), from(vol, nov20)}, 1},
		{"revisions that make two per_unit versions of a month graduated", []abacus.Price{from(unit, nov1), from(unit, nov15)},
			[]abacus.Price{revised(from(grad, nov1), 1), revised(from(grad, nov15), 1)}, 1},
		// The version named is the one from mid-month, where it is added
		// and counts (QA: the error blamed the one from the month's start).
		{"added together: graduated, then volume mid-month", nil, []abacus.Price{from(grad, aug1), from(vol, aug1.AddDate(0, 0, 19))}, 1},
		{"added together: from months' starts, then one from a start in +08:00", nil,
			[]abacus.Price{from(vol, aug1), from(vol, sep15.AddDate(0, 0, -14)), from(vol, time.Date(2026, 10, 1, 0, 0, 0, 0, time.FixedZone("+08", 8*3600)))}, 2},
		{"per_unit, then volume, then per_unit in one month", []abacus.Price{from(unit, nov1)}, []abacus.Price{from(vol, nov5), from(unit, nov20)}, -1},
	} {
		err := rating.CheckCountedVersions(nil, tc.stored, tc.added)
		var ae *abacus.Error
		switch {
		case tc.refused < 0 && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.refused >= 0 && (!errors.As(err, &ae) || ae.Code != abacus.CodeInvalid || ae.Field != fmt.Sprintf("prices[%d].valid_from", tc.refused)):
			t.Errorf("%s: %v, want prices[%d].valid_from refused", tc.name, err, tc.refused)
		}
	}
	// In a billing zone east of UTC, a version from UTC's midnight on the
	// 1st is 08:00 there: the refusal offers that month's start in the zone
	// and the next one's (QA: it offered only February's, for a price meant
	// from January).
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	err = rating.CheckCountedVersions(shanghai, []abacus.Price{from(vol, time.Date(2026, 11, 30, 16, 0, 0, 0, time.UTC))}, []abacus.Price{from(vol, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))})
	if err == nil || !strings.Contains(err.Error(), "(here 2027-01-01T00:00:00+08:00 or 2027-02-01T00:00:00+08:00)") {
		t.Errorf("a version from UTC's 1st in Shanghai: %v, want both months' starts there offered", err)
	}
}
