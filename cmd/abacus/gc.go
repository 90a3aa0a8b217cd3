package main

import (
	"os"
	"runtime/debug"
)

// defaultGOGC is how far the heap may grow past what is live before Go
// collects it, unless the GOGC environment variable says otherwise. At
// Go's default of 100, collecting took about a quarter of abacus's CPU
// under ingestion load, because every batch allocates its encoded rows
// anew (pgx, for one, keeps no buffer between pipelines); at 400 abacus
// spent a quarter less CPU per event and PostgreSQL, sharing the
// machine, took 13% (HTTP) to 21% (in-process) more events/s. The heap
// may then reach five times what is live, which the configuration bounds
// (--max-batch, --max-usage-batch, the queues, --ingest-memory,
// --request-memory); under a
// container's memory limit set GOMEMLIMIT too.
const defaultGOGC = 400

func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGOGC)
	}
}
