package metering

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/abacus-billing/abacus"
)

// deadLetter records a message in the store, then publishes it to the
// dead letter subject: through JetStream if a stream captures the subject,
// plainly if none does, and marks it published in the store. The store
// comes first: while the database is down nothing is published, so the
// subject sees a message once. A letter the store has marked published is
// not published again: the durable consumer deleted and made again replays
// the stream, and a redelivery may come after JetStream's duplicate window,
// past which the message id no longer makes a second copy a duplicate.
func (c *Consumer) deadLetter(b *batch, m *inMsg, reasons, codes []string) error {
	reason := reasonOf(reasons)
	if b.instance == "" {
		// A stream deleted and made again, or one of a new cluster,
		// numbers its messages from 1 again: the sequence alone would
		// make a new message's dead letter look like an old one's and be
		// dropped. Its creation time tells the streams apart, and stays
		// the same for a redelivery. Looked up per batch, not kept from
		// setup: another instance may have made the stream again.
		s, err := c.js.Stream(b.ctx, c.cfg.Stream)
		if err != nil {
			return fmt.Errorf("looking up stream %s: %w", c.cfg.Stream, err)
		}
		b.instance = strconv.FormatInt(s.CachedInfo().Created.UnixNano(), 10)
	}
	// Not the durable's name: a durable of another name replays the
	// stream, and had recorded and published every letter again (QA).
	id := fmt.Sprintf("%s:%s:%d", c.cfg.Stream, b.instance, m.seq)
	key := "nats:" + id
	published, err := c.st.DeadLetterAdd(b.ctx, abacus.DeadLetter{
		// The key makes a redelivered message's second recording a no-op.
		Key:    key,
		Source: "nats", Subject: m.msg.Subject(), Reason: reason, Payload: m.msg.Data(), Headers: m.msg.Headers(),
		ReceivedAt: c.p.Engine.Now().UTC(),
	})
	if err != nil {
		return fmt.Errorf("recording the dead letter: %w", err)
	}
	if published {
		// A replay's, said once, at info: not as a new bad message too
		// (QA: a durable of another name warned of every letter again).
		c.log.Info("usage message was dead-lettered and published before; not published again", "subject", m.msg.Subject(), "seq", m.seq, "key", key)
		return nil
	}
	c.log.Warn("usage message dead-lettered", "subject", m.msg.Subject(), "seq", m.seq, "reason", reason)
	if m.msg.Headers().Get(ReasonHeader) != "" {
		// It is a dead letter already, come back: a stream captures the
		// dead-letter subject and renames it (a subject transform), so leave
		// did not know it. Published again it would come back again, for
		// ever (QA). It is in the list; a stream has it once.
		if ok, missed := c.otherLog.Allow(time.Now()); ok {
			c.log.Warn("a dead letter came back and was refused again: it is listed, not published again; take the dead-letter subject out of the stream (logged once in 10 s at most)",
				"subject", m.msg.Subject(), "key", key, "not_logged", missed)
		}
		return nil
	}
	out := nats.NewMsg(c.cfg.DeadLetterSubject)
	out.Data = m.msg.Data()
	// The message's own headers go along: a CloudEvent in binary mode
	// keeps its attributes there. Not the Nats-* ones, which the server
	// acts on (an expected stream, a TTL) and were meant for the original.
	for k, vs := range m.msg.Headers() {
		if !strings.HasPrefix(strings.ToLower(k), "nats-") {
			out.Header[k] = slices.Clone(vs)
		}
	}
	out.Header.Set(ReasonHeader, strings.NewReplacer("\r", " ", "\n", " ").Replace(reason))
	out.Header.Set(CodeHeader, strings.Join(codes, ","))
	out.Header.Set(SubjectHeader, m.msg.Subject())
	fitPayload(out, c.nc.MaxPayload())
	if b.dlq == 0 {
		// Not a JetStream publish blindly: a plain subscriber on the
		// subject would take the request and never answer it.
		_, err := c.js.StreamNameBySubject(b.ctx, c.cfg.DeadLetterSubject)
		switch {
		case err == nil:
			b.dlq = 1
		case errors.Is(err, jetstream.ErrStreamNotFound):
			b.dlq = -1
		default:
			return fmt.Errorf("looking for a stream that captures %s: %w", c.cfg.DeadLetterSubject, err)
		}
	}
	if b.dlq > 0 {
		// The stream confirms it has the message, and the id makes a
		// redelivered dead letter a duplicate it drops.
		_, err = c.js.PublishMsg(b.ctx, out, jetstream.WithMsgID(id), jetstream.WithRetryAttempts(0))
	} else if err = c.nc.PublishMsg(out); err == nil {
		err = c.nc.FlushWithContext(b.ctx)
	}
	if refusedByStream(err) {
		// The stream answered and will not take it (larger than its
		// max_msg_size, full and discarding new): handed back, the message
		// would come back for ever, holding the ack floor and every event
		// behind it. The letter is in the store, listed, unpublished.
		if ok, missed := c.refusedLog.Allow(time.Now()); ok {
			c.log.Error("the dead-letter stream refused a dead letter; it is kept in the dead-letter list, unpublished (logged once in 10 s at most)",
				"subject", c.cfg.DeadLetterSubject, "key", key, "err", err, "not_logged", missed)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("publishing to %s: %w", c.cfg.DeadLetterSubject, err)
	}
	// Should marking fail, the message is redelivered and its letter
	// published again: within the duplicate window the stream drops that
	// copy by its id; past it (or published plainly) the subject sees it
	// twice.
	if err := c.st.DeadLetterPublished(b.ctx, key, c.p.Engine.Now().UTC()); err != nil {
		return fmt.Errorf("marking the dead letter published: %w", err)
	}
	return nil
}

// refusedByStream says the stream answered a publish and refused the
// message in a way sending it again will not change: a client error (the
// message too large, 400), or its store failing (10077: full under
// discard new). Being unavailable (503) passes.
func refusedByStream(err error) bool {
	var api *jetstream.APIError
	return errors.As(err, &api) && (api.Code >= 400 && api.Code < 500 || api.ErrorCode == jsStoreFailed)
}

// jsStoreFailed is the server's JSStreamStoreFailedF, which nats.go does
// not name.
const jsStoreFailed jetstream.ErrorCode = 10077

// TruncatedHeader, on a dead-lettered message, gives the size in bytes of
// the message's body, which was cut to fit the server's max_payload with
// the headers abacus adds; the dead-letter listing holds it whole.
const TruncatedHeader = "Abacus-Truncated"

// fitPayload cuts a dead letter's body so that it fits in limit bytes with
// its headers, and leaves out the original message's own headers if even
// they do not fit. A message that arrived near max_payload would not fit
// with abacus's headers added, and could then never be dead-lettered and
// acked: it would be redelivered for ever, holding the consumer's ack floor.
func fitPayload(out *nats.Msg, limit int64) {
	// Room for the Nats-Msg-Id header a JetStream publish adds and the
	// header block's framing (NATS/1.0 and line ends).
	const framing = 256
	headers := func() int64 {
		n := int64(framing)
		for k, vs := range out.Header {
			for _, v := range vs {
				n += int64(len(k) + len(v) + 4)
			}
		}
		return n
	}
	body := out.Data
	if int64(len(body))+headers() <= limit {
		return
	}
	out.Header.Set(TruncatedHeader, strconv.Itoa(len(body)))
	if headers() > limit { // the original's own headers are too many
		for k := range out.Header {
			if !strings.HasPrefix(k, "Abacus-") {
				out.Header.Del(k)
			}
		}
	}
	out.Data = body[:max(0, min(int64(len(body)), limit-headers()))]
}

// reasonOf joins a message's reasons in maxReason bytes: as many whole as
// fit, then how many more there were. A message of 100 bad events had
// listed 29 and "…", with no word of the rest (QA).
func reasonOf(reasons []string) string {
	if s := strings.Join(reasons, "; "); len(s) <= maxReason || len(reasons) == 1 {
		return clip(s)
	}
	room := maxReason - len(fmt.Sprintf("; … and %d more", len(reasons)))
	var b strings.Builder
	n := 0
	for _, r := range reasons {
		sep := "; "
		if n == 0 {
			sep = ""
		}
		if b.Len()+len(sep)+len(r) > room {
			break
		}
		b.WriteString(sep + r)
		n++
	}
	if n == 0 { // the first alone is too long
		b.WriteString(clipTo(reasons[0], room))
		n = 1
	}
	fmt.Fprintf(&b, "; … and %d more", len(reasons)-n)
	return b.String()
}

// clip cuts a reason to maxReason bytes, on a rune boundary.
func clip(s string) string { return clipTo(s, maxReason) }

// clipTo cuts s to most bytes, ending in "…" if it was cut.
func clipTo(s string, most int) string {
	if len(s) <= most {
		return s
	}
	cut := most - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
