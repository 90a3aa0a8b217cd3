package bench

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// cpuSample is what this process and the whole machine had spent on CPU at
// one moment, read from Linux's /proc (zero elsewhere). Two samples around
// a run say whether the machine was saturated and how much of it this
// process took (abacus, and in-process the benchmark's producers too);
// with the database on the same machine, the rest was mostly the
// database's.
type cpuSample struct {
	self        int64 // this process's user and system time, in clock ticks
	busy, total int64 // every CPU's busy and total time, in clock ticks
}

// userHZ is Linux's clock tick for /proc, fixed by its ABI.
const userHZ = 100

func sampleCPU() cpuSample {
	var s cpuSample
	if b, err := os.ReadFile("/proc/self/stat"); err == nil {
		// The command name may hold spaces; the fields after it may not.
		if i := strings.LastIndexByte(string(b), ')'); i > 0 {
			f := strings.Fields(string(b)[i+1:])
			if len(f) > 12 {
				utime, _ := strconv.ParseInt(f[11], 10, 64)
				stime, _ := strconv.ParseInt(f[12], 10, 64)
				s.self = utime + stime
			}
		}
	}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line)
		// cpu user nice system idle iowait irq softirq steal guest guest_nice;
		// guest time is counted in user time already.
		if len(f) > 8 && f[0] == "cpu" {
			for i, v := range f[1:9] {
				n, _ := strconv.ParseInt(v, 10, 64)
				s.total += n
				if i != 3 && i != 4 { // idle, iowait
					s.busy += n
				}
			}
		}
	}
	return s
}

// CPUUse is where the CPU time of a run went.
type CPUUse struct {
	PerEvent    time.Duration // this process's CPU time per acknowledged event
	MachineBusy float64       // share of all the machine's CPU time that was busy, 0 if unknown
	Process     float64       // share of all the machine's CPU time that this process used
}

func cpuUse(from, to cpuSample, events int64) CPUUse {
	var u CPUUse
	if events > 0 {
		u.PerEvent = time.Duration((to.self - from.self) * int64(time.Second) / userHZ / events)
	}
	if total := to.total - from.total; total > 0 {
		u.MachineBusy = float64(to.busy-from.busy) / float64(total)
		u.Process = float64(to.self-from.self) / float64(total)
	}
	return u
}

// String reads, for example, "31µs/event, machine 94% busy (this process 36%)".
func (u CPUUse) String() string {
	s := u.PerEvent.Round(time.Microsecond).String() + "/event"
	if u.MachineBusy > 0 {
		s += ", machine " + strconv.Itoa(int(u.MachineBusy*100+0.5)) + "% busy (this process " + strconv.Itoa(int(u.Process*100+0.5)) + "%)"
	}
	return s
}
