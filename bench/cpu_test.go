package bench

import (
	"testing"
	"time"
)

func TestCPUUse(t *testing.T) {
	u := cpuUse(cpuSample{self: 50, busy: 1000, total: 4000}, cpuSample{self: 150, busy: 1150, total: 4200}, 1000)
	if u.PerEvent != time.Millisecond || u.MachineBusy != 0.75 || u.Process != 0.5 {
		t.Fatalf("%+v", u)
	}
	if got, want := u.String(), "1ms/event, machine 75% busy (this process 50%)"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
	if got := cpuUse(cpuSample{}, cpuSample{self: 3}, 0).String(); got != "0s/event" {
		t.Fatalf("no events, no /proc/stat: %q", got)
	}
}
