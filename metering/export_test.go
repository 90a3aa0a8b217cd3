package metering

import "time"

// SetHooks makes c call beforeIngest when it has fetched and decoded a
// batch of n messages, and beforeAck when the batch has committed and is
// about to be settled. Either may be nil; two batches may call them at
// once. Call it before Start.
func SetHooks(c *Consumer, beforeIngest func(n int), beforeAck func()) {
	c.beforeIngest, c.beforeAck = beforeIngest, beforeAck
}

// KillConnection closes c's NATS connection at once, as if its process
// had died: nothing more it sends reaches the server.
func KillConnection(c *Consumer) { c.nc.Close() }

// SetFetchBudget makes c's pulls fetch at most n bytes, whatever the
// server takes. Call it before Start.
func SetFetchBudget(c *Consumer, n int) { c.budget = func() int { return n } }

// SetReconnectWait makes c wait d between attempts to reconnect, instead
// of nats.go's two seconds. Call it before Start.
func SetReconnectWait(c *Consumer, d time.Duration) { c.reconnectWait = d }

// SetStopGrace sets how long c's Stop lets turns in flight try to commit.
func SetStopGrace(c *Consumer, d time.Duration) { c.stopGrace = d }

// SetStuckAfter makes c stop once its durable's ack floor stays put for d
// with messages pending. Call it before Start.
func SetStuckAfter(c *Consumer, d time.Duration) { c.stuckAfter = d }
