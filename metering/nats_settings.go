package metering

import (
	"cmp"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// logSettingsChanged says which of an existing durable's settings the
// update changed, each as the server reports it before and after: a
// durable someone made with max_deliver 2, a backoff and metadata of its
// own had lost them without a word (QA). abacus needs unlimited
// deliveries: a message given up after some would never be charged.
func (c *Consumer) logSettingsChanged(before, after jetstream.ConsumerConfig) {
	was, is := settings(before), settings(after)
	keys := slices.Collect(maps.Keys(was))
	for k := range is {
		if _, ok := was[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var changed []any
	for _, k := range keys {
		if was[k] != is[k] {
			change := cmp.Or(was[k], "none") + " to " + cmp.Or(is[k], "none")
			if k == "max_deliver" {
				change += " (a message given up after some deliveries would never be charged)"
			}
			changed = append(changed, k, change)
		}
	}
	if len(changed) > 0 {
		c.log.Warn("changed the settings of the existing durable consumer to those abacus needs",
			append([]any{"durable", c.cfg.Durable, "stream", c.cfg.Stream}, changed...)...)
	}
}

// settings are a durable's settings by their JSON names, durations
// written as durations.
func settings(cfg jetstream.ConsumerConfig) map[string]string {
	b, _ := json.Marshal(cfg)
	var fields map[string]json.RawMessage
	json.Unmarshal(b, &fields)
	out := make(map[string]string, len(fields))
	for k, raw := range fields {
		out[k] = string(raw)
		switch k {
		case "ack_wait", "inactive_threshold", "max_expires", "idle_heartbeat", "priority_timeout":
			var ns int64
			if json.Unmarshal(raw, &ns) == nil {
				out[k] = time.Duration(ns).String()
			}
		case "metadata": // the operator's, not the server's own (_nats.ver, …)
			var md map[string]string
			if json.Unmarshal(raw, &md) == nil {
				maps.DeleteFunc(md, func(k, _ string) bool { return strings.HasPrefix(k, "_nats.") })
				b, _ := json.Marshal(md)
				out[k] = string(b)
				if len(md) == 0 {
					delete(out, k)
				}
			}
		case "backoff":
			var ns []int64
			if json.Unmarshal(raw, &ns) == nil {
				ds := make([]string, len(ns))
				for i, n := range ns {
					ds[i] = time.Duration(n).String()
				}
				out[k] = "[" + strings.Join(ds, " ") + "]"
			}
		}
	}
	return out
}
