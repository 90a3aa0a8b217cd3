package store

import (
	"encoding/json"
	"fmt"
)

// EncodeHeaders spells a message's headers for a TEXT column, as JSON.
func EncodeHeaders(h map[string][]string) (string, error) {
	if len(h) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(h)
	return string(b), err
}

// DecodeHeaders reads what EncodeHeaders wrote; no headers are nil.
func DecodeHeaders(s string) (map[string][]string, error) {
	var h map[string][]string
	if err := json.Unmarshal([]byte(s), &h); err != nil {
		return nil, fmt.Errorf("store: headers %q: %w", s, err)
	}
	if len(h) == 0 {
		return nil, nil
	}
	return h, nil
}
