package metering

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/metering/decode"
)

// inMsg is one fetched message and what became of it.
type inMsg struct {
	msg       jetstream.Msg
	delivered uint64        // deliveries so far, this one included
	seq       uint64        // stream sequence
	bad       *abacus.Error // the body could not be split into events
	first, n  int           // its items in the batch
}

// batch is the state of handling one fetched batch.
type batch struct {
	ctx context.Context
	// dlq says where dead letters go: 0 not looked up yet, 1 to the
	// JetStream stream that captures the subject, -1 plainly (none does).
	dlq int
	// instance tells the consumer's stream from an earlier one of the
	// same name, "" until looked up: see deadLetter.
	instance string
	// backoff is the pull's, see retry.
	backoff *time.Duration
}

// handle charges a pull's messages and settles each: ack, dead-letter
// and ack, or hand back for redelivery. It charges them in turns of at
// most MaxEvents events, one Pipeline call each, decoding a turn's
// messages only when its turn comes: a pull is bounded in bytes, and a
// message that holds an array of events decodes into many times its size.
//
// Its first turn waits until after is closed, and it closes queued once
// its last turn's events are in batches: chained pull to pull, a later
// message never goes into a batch before an earlier one, so the earlier
// wins a conflict over an id or an instance's minute, as CSGHub's
// in-order consumer has it. Two pulls in flight had let the second's
// events in between the first's turns (QA: the later of two events with
// one id was charged, and with minute dedupe 25.00 instead of 5.00). It is
// the turn that waits, not its events: a turn none of whose events reach
// a batch (all malformed, say) would not have held back the turns after
// it (QA again). Once a turn hands a message back, the rest of the pull
// goes back with it, uncharged, so that nothing after it in the pull is
// charged first (QA: a turn that failed let the next one's event take
// the minute).
func (c *Consumer) handle(msgs []jetstream.Msg, after <-chan struct{}, queued chan<- struct{}) {
	var turn []inMsg
	var items []decode.Item
	from, failed := 0, false  // the turn's first message; whether a turn handed one back
	var backoff time.Duration // the longest delay a message of the pull was handed back with
	for i, m := range msgs {
		c.received.Add(1) // a dead letter come back too: fetched all the same (QA)
		if m.Subject() == c.cfg.DeadLetterSubject {
			c.leave(m)
			continue
		}
		in := inMsg{msg: m, delivered: 1}
		if md, err := m.Metadata(); err == nil {
			in.delivered, in.seq = md.NumDelivered, md.Sequence.Stream
		}
		if in.delivered > 1 {
			c.redelivered.Add(1)
		}
		if failed {
			c.retry(&in, &backoff)
			continue
		}
		its, err := decodeMessage(m)
		if err != nil {
			in.bad = asAbacusError(err)
		}
		// At debug level each message's way is logged by its stream
		// sequence (received, settled, handed back), so that a message
		// reported lost can be followed to abacus's side or the server's.
		c.log.Debug("usage message received", "seq", in.seq, "delivered", in.delivered, "events", len(its))
		if len(items) > 0 && len(items)+len(its) > c.cfg.MaxEvents {
			failed = !c.charge(turn, items, after, nil, msgs[from:], &backoff)
			turn, items, after, from = nil, nil, nil, i // the next turn comes after this one has committed
			if failed {
				c.retry(&in, &backoff)
				continue
			}
		}
		in.first, in.n = len(items), len(its)
		items = append(items, its...)
		turn = append(turn, in)
	}
	if failed {
		close(queued) // the turns before waited for the pull before
		return
	}
	c.charge(turn, items, after, queued, msgs[from:], &backoff)
}

// keepInProgress runs fn, telling JetStream meanwhile that msgs are in
// hand, so that a long wait or turn does not have them redelivered.
func (c *Consumer) keepInProgress(msgs []jetstream.Msg, fn func()) {
	done := make(chan struct{})
	var ticking sync.WaitGroup
	ticking.Add(1)
	go func() {
		defer ticking.Done()
		tick := time.NewTicker(max(c.cfg.AckWait/3, time.Millisecond))
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				for _, m := range msgs {
					m.InProgress()
				}
			}
		}
	}()
	fn()
	close(done)
	ticking.Wait()
}

// leave acknowledges, unread, a message of the dead-letter subject: one
// of abacus's own dead letters, which a durable without a filter gets
// from a stream widened to capture that subject while abacus runs, and
// would dead-letter again, for ever (QA). Only that subject: a stream's
// subject transforms and sources store usage under other subjects than
// the ones configured, and those must be charged (QA again).
func (c *Consumer) leave(m jetstream.Msg) {
	if ok, missed := c.otherLog.Allow(time.Now()); ok {
		c.log.Warn("a message of the dead-letter subject was acknowledged and left alone: the stream captures abacus's dead letters, which it would dead-letter again; take that subject out of the stream (logged once in 10 s at most)",
			"subject", m.Subject(), "not_logged", missed)
	}
	if err := m.Ack(); err != nil {
		c.log.Debug("acknowledging a message left alone failed; it comes back and is left again", "subject", m.Subject(), "err", err)
	}
}

// charge charges a turn's events in one Pipeline call, once after (if not
// nil) is closed, and settles its messages; it closes queued once the
// events are in batches. While it waits and charges it keeps the pull's
// messages from the turn's on (pending) in progress: a turn slower than
// the ack wait had failed at its deadline every time it came back (QA).
// It returns false if it handed any message back.
func (c *Consumer) charge(in []inMsg, items []decode.Item, after <-chan struct{}, queued chan<- struct{}, pending []jetstream.Msg, backoff *time.Duration) bool {
	var ctx context.Context
	var cancel context.CancelFunc
	var results []abacus.IngestResult
	var err error
	c.keepInProgress(pending, func() {
		if c.beforeIngest != nil {
			c.beforeIngest(len(in))
		}
		if after != nil {
			<-after // the pull before has all its events in batches
		}
		// Whatever happens to the caller, let the batch commit (until Stop's
		// grace is over): an abandoned commit is only redelivered as
		// duplicates, but waiting costs nothing.
		ctx, cancel = context.WithTimeout(c.turns, max(10*c.cfg.AckWait, turnTimeout))
		results, err = c.p.IngestAfter(ctx, items, nil, queued)
	})
	defer cancel()
	if c.beforeAck != nil {
		c.beforeAck()
	}
	if err != nil {
		if ok, missed := c.failedLog.Allow(time.Now()); ok {
			c.log.Error("charging a batch of usage events failed; it will be redelivered (logged once in 10 s at most)", "messages", len(in), "events", len(items), "err", err, "not_logged", missed)
		}
		for i := range in {
			c.retry(&in[i], backoff)
		}
		return false
	}
	b := &batch{ctx: ctx, backoff: backoff}
	var acks []jetstream.Msg
	for i := range in {
		m := &in[i]
		var rs []abacus.IngestResult
		if m.bad == nil {
			rs = results[m.first : m.first+m.n]
		}
		acked := c.settle(b, m, rs)
		if acked {
			acks = append(acks, m.msg)
		}
		c.log.Debug("usage message settled", "seq", m.seq, "events", m.n, "to_ack", acked)
	}
	c.ack(acks)
	return len(acks) == len(in)
}

// turnTimeout bounds a turn (with ten ack waits, if longer): past it, a
// database that does not answer has the turn's messages handed back.
const turnTimeout = 5 * time.Minute

// settle counts a message's results and decides its fate. It returns true
// if the message is to be acked; otherwise it has been handed back.
func (c *Consumer) settle(b *batch, m *inMsg, rs []abacus.IngestResult) bool {
	var reasons, codes []string
	addCode := func(code abacus.ErrorCode) {
		if !slices.Contains(codes, string(code)) {
			codes = append(codes, string(code))
		}
	}
	transient, rejected := false, 0
	for j, r := range rs {
		switch r.Status {
		case abacus.IngestAccepted:
			c.accepted.Add(1)
		case abacus.IngestDuplicate:
			c.duplicate.Add(1)
		default:
			if isTransient(r.Err) && m.delivered < uint64(c.cfg.RetryLimit) {
				transient = true
				continue
			}
			rejected++
			reason, code := "rejected", abacus.CodeInternal
			if r.Err != nil {
				reason, code = r.Err.Error(), r.Err.Code
			}
			if len(rs) > 1 && !strings.HasPrefix(reason, "[") {
				reason = fmt.Sprintf("[%d] %s", j, reason)
			}
			reasons = append(reasons, reason)
			addCode(code)
		}
	}
	if m.bad != nil {
		reasons = append(reasons, m.bad.Error())
		addCode(m.bad.Code)
	}
	if transient {
		// The good events are stored: redelivered, they are duplicates.
		c.log.Warn("some usage events failed for a reason of ours; their message will be redelivered",
			"subject", m.msg.Subject(), "seq", m.seq, "deliveries", m.delivered)
		c.retry(m, b.backoff)
		return false
	}
	if len(reasons) == 0 {
		return true
	}
	if err := c.deadLetter(b, m, reasons, codes); err != nil {
		if ok, missed := c.deadLetterLog.Allow(time.Now()); ok {
			c.log.Error("dead-lettering a usage message failed; it will be redelivered (logged once in 10 s at most)",
				"subject", m.msg.Subject(), "seq", m.seq, "err", err, "not_logged", missed)
		}
		c.retry(m, b.backoff)
		return false
	}
	c.rejected.Add(int64(rejected))
	c.deadLettered.Add(1)
	return true
}

// ack acks messages, confirming the last: JetStream handles a consumer's
// acks in order, so once it is confirmed all of them are. It waits for the
// confirmation no longer than the ack wait, past which the server sends
// unacked messages again anyway (as duplicates): waiting for the turn's
// deadline, a confirmation lost as nats-server crashed held both pulls for
// five minutes (QA).
func (c *Consumer) ack(msgs []jetstream.Msg) {
	ctx, cancel := context.WithTimeout(c.turns, c.cfg.AckWait)
	defer cancel()
	for i, m := range msgs {
		var err error
		if i == len(msgs)-1 {
			err = m.DoubleAck(ctx)
		} else {
			err = m.Ack()
		}
		if err != nil { // redelivered later, as duplicates
			c.log.Warn("acking usage messages failed; they will be redelivered", "messages", len(msgs)-i, "err", err)
			return
		}
	}
	if len(msgs) > 0 {
		c.log.Debug("usage messages acknowledged, the last confirmed", "messages", len(msgs))
	}
}

// retry hands a message back to JetStream, to be redelivered after a
// delay that grows with its deliveries, and is no shorter than that of a
// message of its pull handed back before it (backoff, which it raises):
// messages come back in the order they were handed back, where an
// earlier one delivered more often had come back after a later one and
// lost a conflict to it (QA).
func (c *Consumer) retry(m *inMsg, backoff *time.Duration) {
	c.retried.Add(1)
	d := c.cfg.RetryDelay
	for i := uint64(1); i < m.delivered && d < maxRetryDelay; i++ {
		d *= 2
	}
	d = max(min(d, maxRetryDelay), *backoff)
	*backoff = d
	c.log.Debug("usage message handed back", "seq", m.seq, "delivered", m.delivered, "delay", d)
	if err := m.msg.NakWithDelay(d); err != nil {
		c.log.Warn("handing back a usage message failed; it will be redelivered after the ack wait", "seq", m.seq, "err", err)
	}
}

// decodeMessage splits a message into events: a CloudEvent in binary mode
// by its ce-* headers, else as the Content-Type header says if it names a
// format; otherwise the body is a CSGHub event, a CloudEvent if it carries
// "specversion", or a JSON array of them. A message without events is
// refused, to be dead-lettered: acked with no trace, a producer's bug that
// sends empty arrays would lose its usage unseen.
func decodeMessage(m jetstream.Msg) ([]decode.Item, error) {
	items, err := decodeBody(m)
	if err == nil && len(items) == 0 {
		return nil, abacus.Errorf(abacus.CodeInvalid, "body", "holds no events (an empty array); a message must carry at least one")
	}
	return items, err
}

func decodeBody(m jetstream.Msg) ([]decode.Item, error) {
	for k, vs := range m.Headers() {
		if strings.EqualFold(k, "Content-Encoding") && slices.ContainsFunc(vs, func(v string) bool { return v != "" && !strings.EqualFold(v, "identity") }) {
			return nil, abacus.Errorf(abacus.CodeInvalid, "Content-Encoding", "%q: abacus reads a NATS message's body as it is; publish it uncompressed", strings.Join(vs, ", "))
		}
	}
	if err := decode.WithoutSpecversion(m.Headers()); err != nil {
		return nil, err
	}
	f, err := decode.ForHeaders(m.Headers(), false)
	if err == nil {
		return f(m.Data(), nil)
	}
	// A type that says it is not JSON is read as JSON all the same, as
	// CSGHub's producers send it; only if that fails is the type the
	// reason.
	if items, jerr := autoJSON(m.Data(), nil); jerr == nil {
		return items, nil
	}
	return nil, err
}

var autoJSON = func() decode.Decoder {
	f, err := decode.ForContentType(decode.ContentTypeJSON)
	if err != nil {
		panic(err)
	}
	return f
}()

// isTransient tells a rejection that is the ledger's trouble, not the
// event's (an internal error, an unavailable database).
func isTransient(e *abacus.Error) bool {
	if e == nil {
		return true
	}
	return e.Code == abacus.CodeInternal || e.Code == abacus.CodeUnavailable
}

func asAbacusError(err error) *abacus.Error {
	var ae *abacus.Error
	if errors.As(err, &ae) {
		return ae
	}
	return abacus.Errorf(abacus.CodeInvalid, "body", "%s", err)
}
