package sqlite

import "encoding/hex"

// eventKey is how usage_events stores an event id: a UUID spelled the
// canonical way (lowercase, hyphenated, as CSGHub's producers and most
// clients send) as its 16 bytes, any other id as its text. The id index
// then holds half the bytes per event, so it stays in the caches twice
// as long and a batch dirties fewer of its pages. A BLOB never equals a
// TEXT in SQLite, and only one spelling of a UUID becomes bytes, so ids
// that were distinct stay distinct: "ABC…" in capitals is still text.
func eventKey(id string) any {
	if !canonicalUUID(id) {
		return id
	}
	b := make([]byte, 16)
	hex.Decode(b[0:4], []byte(id[0:8]))
	hex.Decode(b[4:6], []byte(id[9:13]))
	hex.Decode(b[6:8], []byte(id[14:18]))
	hex.Decode(b[8:10], []byte(id[19:23]))
	hex.Decode(b[10:16], []byte(id[24:36]))
	return b
}

// eventKeys returns the stored keys of ids.
func eventKeys(ids []string) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = eventKey(id)
	}
	return out
}

// eventID turns a key read from usage_events.id back into the id.
func eventID(key any) string {
	switch k := key.(type) {
	case []byte:
		if len(k) != 16 { // never written by abacus; shown, not trusted
			return string(k)
		}
		h := hex.EncodeToString(k)
		return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	case string:
		return k
	}
	return ""
}

// canonicalUUID reports whether id is 8-4-4-4-12 lowercase hex digits.
func canonicalUUID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := id[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}
