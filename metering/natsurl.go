package metering

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// CheckURL checks a NATS server list, URLs separated by commas as
// ConsumerConfig.URL takes them, so that a malformed one is refused at
// once rather than retried for ever. Its errors name the URL with its
// credentials redacted.
func CheckURL(list string) error {
	n := 0
	for _, raw := range strings.Split(list, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		n++
		s := raw
		if !strings.Contains(s, "://") { // as nats.go reads it
			s = "nats://" + s
		}
		u, err := url.Parse(s)
		if err != nil {
			why := "is not a URL"
			var ue *url.Error
			var escape url.EscapeError
			switch {
			case errors.As(err, &escape) && strings.Contains(raw, "@"):
				// Its message quotes the escape, which may be of a password.
				why += ": a % that is not followed by two hex digits (write a % in a user or password as %25)"
			case errors.As(err, &ue) && !strings.Contains(raw, "@"): // else its message may quote part of the credentials
				why += ": " + ue.Err.Error()
			}
			return fmt.Errorf("%s %s", RedactURL(raw), why)
		}
		if !slices.Contains([]string{"nats", "tls", "ws", "wss"}, u.Scheme) {
			return fmt.Errorf("%s has scheme %q; want nats, tls, ws or wss", RedactURL(raw), u.Scheme)
		}
		if u.Hostname() == "" {
			return fmt.Errorf("%s has no host", RedactURL(raw))
		}
		// A scheme mistyped as nats// or nats:/ reads as host "nats" with a
		// path, and nats: as host "nats:127.0.0.1": each was retried for
		// ever, as a host no lookup finds (QA).
		const want = "want scheme://host:port, such as nats://127.0.0.1:4222"
		if strings.Contains(u.Hostname(), ":") && !strings.HasPrefix(u.Host, "[") {
			return fmt.Errorf("%s has a host with a colon in it that is not an IPv6 address in brackets; %s", RedactURL(raw), want)
		}
		if u.Path != "" && u.Path != "/" && u.Scheme != "ws" && u.Scheme != "wss" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
			return fmt.Errorf("%s has a path, query or fragment, which NATS does not read; %s", RedactURL(raw), want)
		}
		if p := u.Port(); p != "" {
			if port, err := strconv.Atoi(p); err != nil || port < 1 || port > 65535 {
				return fmt.Errorf("%s has port %s; want 1 to 65535", RedactURL(raw), p)
			}
		}
	}
	if n == 0 {
		return errors.New("is empty; want a NATS URL such as nats://127.0.0.1:4222")
	}
	return nil
}

// RedactURL returns a NATS server list fit for a log: each URL's password,
// or its token (user info without a password), is replaced with "xxxxx".
// It works on the text, so that a URL too malformed to parse is redacted
// too.
func RedactURL(list string) string {
	urls := strings.Split(list, ",")
	for i, s := range urls {
		at := strings.LastIndex(s, "@")
		if at < 0 {
			continue
		}
		start := 0
		if j := strings.Index(s, "://"); j >= 0 && j < at {
			start = j + len("://")
		}
		if user, _, ok := strings.Cut(s[start:at], ":"); ok {
			urls[i] = s[:start] + user + ":xxxxx" + s[at:]
		} else {
			urls[i] = s[:start] + "xxxxx" + s[at:]
		}
	}
	return strings.Join(urls, ",")
}
