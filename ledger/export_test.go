package ledger

import "time"

// SetBatchDeadline shortens how long a batch may take, for tests.
func SetBatchDeadline(d time.Duration) (restore func()) {
	old := batchDeadline
	batchDeadline = d
	return func() { batchDeadline = old }
}

// Queued counts the ledger operations and usage jobs waiting for a worker.
func (e *Engine) Queued() int {
	n := len(e.queue)
	for _, q := range e.usage {
		n += len(q)
	}
	return n
}
