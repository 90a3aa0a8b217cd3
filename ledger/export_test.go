package ledger

// Queued counts the ledger operations and usage jobs waiting for a worker.
func (e *Engine) Queued() int {
	n := len(e.queue)
	for _, q := range e.usage {
		n += len(q)
	}
	return n
}
