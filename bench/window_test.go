package bench

import (
	"testing"
	"time"
)

// Producers that send together are answered together: counted by their
// answers alone, a window of 10 s held 13 or 14 whole rounds of a rate
// of 13.3 rounds a second, 5% off either way.
func TestWindowCountsTheWorkInside(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	const producers, events, round = 256, 100, 750 // ms a round
	var reqs []request
	for r := 0; r < 20; r++ {
		for p := 0; p < producers; p++ {
			reqs = append(reqs, request{at(r * round), at((r + 1) * round), events})
		}
	}
	want := float64(producers*events) * 1000 / round // events a second
	for _, offset := range []int{0, 100, 374, 749} {
		from, to := at(1000+offset), at(11000+offset)
		answered, share, lat := window(reqs, from, to)
		if got := share / 10; got < want*0.9999 || got > want*1.0001 {
			t.Errorf("offset %d ms: %.1f events/s, want %.1f", offset, got, want)
		}
		if rounds := answered / (producers * events); rounds != 13 && rounds != 14 || int64(len(lat)) != rounds*producers {
			t.Errorf("offset %d ms: %d events answered inside, %d latencies", offset, answered, len(lat))
		}
		if lat[0] != round*time.Millisecond {
			t.Errorf("latency %s", lat[0])
		}
	}
	// A request wholly outside counts nothing; one answered at once, only when inside.
	if _, share, _ := window([]request{{at(0), at(500), 7}, {at(20000), at(20000), 3}}, at(1000), at(2000)); share != 0 {
		t.Errorf("outside counted %.1f", share)
	}
	if answered, share, _ := window([]request{{at(1500), at(1500), 3}, {at(500), at(1500), 10}}, at(1000), at(2000)); answered != 13 || share != 5 {
		t.Errorf("%d answered, %.1f inside", answered, share)
	}
}
