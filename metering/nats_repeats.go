package metering

// repeatWatch notices a fault of nats-server 2.9 (QA, with Debian 12's
// 2.9.10, under kill -9 restarts of abacus and database outages): it
// delivered a message it had delivered before as a first delivery, with a
// new consumer sequence, in the place of another message. That other
// message then stayed pending, each redelivery of it arriving as the
// repeat again, until abacus restarted; once it was acked with its events
// never stored. 2.15 did not do this in the same tests. A server delivers
// each message for the first time in stream order, to every process
// pulling from the durable, so a first delivery at or below the highest
// one a process has seen is that fault; abacus cannot tell which message
// it stood in for, so it says so loudly rather than count a duplicate.
// Every delivery takes the next consumer sequence, so one at or below the
// highest seen is of a durable made again (by another process, or an
// operator replaying the stream), which starts over from the stream's
// start: the watch starts over with it.
type repeatWatch struct{ stream, consumer uint64 }

// repeated records a delivery and says whether it is such a repeat.
func (w *repeatWatch) repeated(delivered, streamSeq, consumerSeq uint64) bool {
	if consumerSeq <= w.consumer {
		*w = repeatWatch{}
	}
	w.consumer = consumerSeq
	if delivered != 1 {
		return false // a redelivery: counted as one
	}
	if streamSeq <= w.stream {
		return true
	}
	w.stream = streamSeq
	return false
}
