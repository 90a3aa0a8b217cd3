// Package bench measures abacus against the common one-transaction-per-
// operation design on the same machine, store and workload, and prints
// both: `abacus bench ledger` drives ledger operations, `abacus bench
// ingest` usage events, in process and over HTTP.
package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/store/postgres"
	"github.com/abacus-billing/abacus/store/sqlite"
)

// freshStore opens a migrated store of the given kind: a new SQLite file
// in dir, or a new schema in the PostgreSQL database at pgURL, holding
// stored older usage events of the accounts (see storeOlderEvents), none
// if stored is 0. The returned func closes and removes it.
func freshStore(ctx context.Context, kind, dir, pgURL string, maxConns int32, stored, accounts int) (abacus.Store, func(), error) {
	var b [4]byte
	rand.Read(b[:])
	name := "abacus_bench_" + hex.EncodeToString(b[:])
	switch kind {
	case "sqlite":
		path := filepath.Join(dir, name+".db")
		st, err := sqlite.Open(path)
		if err != nil {
			return nil, nil, err
		}
		cleanup := func() {
			st.Close()
			for _, suffix := range []string{"", "-wal", "-shm"} {
				os.Remove(path + suffix)
			}
		}
		err = st.Migrate(ctx)
		if err == nil {
			err = storeOlderEvents(ctx, st, "", accounts, stored)
		}
		if err != nil {
			cleanup()
			return nil, nil, err
		}
		return st, cleanup, nil
	case "postgres":
		if err := postgres.CreateSchema(ctx, pgURL, name); err != nil {
			return nil, nil, fmt.Errorf("postgres at %s: %w", pgURL, err)
		}
		url := postgres.WithSchema(pgURL, name)
		drop := func() { postgres.DropSchema(context.Background(), pgURL, name) }
		st, err := postgres.Open(ctx, url, postgres.Options{MaxConns: maxConns})
		if err != nil {
			drop()
			return nil, nil, err
		}
		err = st.Migrate(ctx)
		if err == nil {
			err = storeOlderEvents(ctx, st, url, accounts, stored)
		}
		if err != nil {
			st.Close()
			drop()
			return nil, nil, err
		}
		return st, func() { st.Close(); drop() }, nil
	}
	return nil, nil, fmt.Errorf("unknown store %q: use sqlite or postgres", kind)
}

// resetPeakRSS returns freed memory to the kernel and makes it forget the
// process's peak resident set, so each run reports its own peak.
func resetPeakRSS() {
	runtime.GC()
	debug.FreeOSMemory()
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// peakRSS returns the peak resident set since the last reset, in bytes.
func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// Machine describes where the figures come from.
func Machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	return fmt.Sprintf("%d CPUs (%s), %s %s/%s", runtime.NumCPU(), model, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// latencies summarises acknowledgement times.
type latencies []time.Duration

func (l latencies) quantile(q float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1))]
}

func mib(b int64) string { return fmt.Sprintf("%d MiB", b>>20) }

func thousands(n float64) string {
	s := strconv.FormatInt(int64(n+0.5), 10)
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
