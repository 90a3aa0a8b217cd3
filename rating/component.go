package rating

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"golang.org/x/text/unicode/norm"

	"github.com/abacus-billing/abacus"
)

// Key is what a price is for. With the account's currency and the event's
// time it selects one price version. The fields are CSGHub's: sku_type,
// sku_kind, resource_id and sku_unit_type.
type Key struct {
	SKUType    int    // 1 csghub, 2 starship, 0 otherwise
	SKUKind    int    // 1 time, 4 prompt tokens, 5 completion tokens, 7 multimodal output, …
	ResourceID string // the event's resource_id
	UnitType   string // minute, token, repository, count, …
}

// KeyOf returns the key a price is for.
func KeyOf(p *abacus.Price) Key {
	return Key{SKUType: p.SKUType, SKUKind: p.SKUKind, ResourceID: p.ResourceID, UnitType: p.UnitType}
}

func (k Key) String() string {
	return fmt.Sprintf("sku_type %d, sku_kind %d, resource_id %s, sku_unit_type %s", k.SKUType, k.SKUKind, quoteKey(k.ResourceID), quoteKey(k.UnitType))
}

// quoteKey quotes a key for a message: one not in NFC with its non-ASCII
// characters escaped, since quoted as they are its combining marks show it
// composed, and an operator would price the composed key (QA).
func quoteKey(s string) string {
	if norm.NFC.IsNormalString(s) {
		return strconv.Quote(s)
	}
	return strconv.QuoteToASCII(s)
}

// Component is one separately priced part of an event: Quantity base units
// under Key.
type Component struct {
	Key      Key
	Quantity int64
	// Cached is, of a prompt component's Quantity, the tokens the model
	// served from its cache (extra.prompt_token_cache_num), which a price
	// with a CachedPrice prices at that.
	Cached int64
}

// SKU kinds, as CSGHub numbers them.
const (
	KindTime                 = 1 // pay-as-you-go time (and quota)
	KindPrompt               = 4 // prompt (input) tokens
	KindCompletion           = 5 // completion (output) tokens
	KindMultimodalCompletion = 7 // multimodal output (count)
)

// SKUTypeOfScene is CSGHub's GetSKUTypeByScene: scenes 10 to 16 are
// csghub (1), 20 and 22 starship (2), anything else 0.
func SKUTypeOfScene(scene int) int {
	switch scene {
	case 10, 11, 12, 13, 14, 15, 16:
		return 1
	case 20, 22:
		return 2
	}
	return 0
}

// UnitTypeOfScene is CSGHub's GetSkuUnitTypeByScene, with scene 16
// (multimodal, counted outputs) added: 10, 11, 12 and 14 are minutes,
// 13 repositories, 15, 20 and 22 tokens, 16 counts, anything else minutes.
func UnitTypeOfScene(scene int) string {
	switch scene {
	case 13:
		return "repository"
	case 15, 20, 22:
		return "token"
	case 16:
		return "count"
	}
	return "minute"
}

// SceneUnitTypes are the unit types UnitTypeOfScene gives.
var SceneUnitTypes = []string{"minute", "token", "count", "repository"}

// Keys of an event's extra that rating reads.
const (
	ExtraSKUType          = "sku_type"               // overrides the sku_type derived from the scene
	ExtraSKUKind          = "sku_kind"               // overrides the sku_kind derived from the value type (and disables the token split)
	ExtraSKUUnitType      = "sku_unit_type"          // overrides the sku_unit_type derived from the scene
	ExtraPromptTokens     = "prompt_token_num"       // prompt tokens of a token event
	ExtraCompletionTokens = "completion_token_num"   // completion tokens of a token event
	ExtraCachedTokens     = "prompt_token_cache_num" // of the prompt tokens, those served from the model's cache
	ExtraRunning          = "running"                // false: an instance licence's server is stopped
)

// Components splits an event into what is priced separately, following
// CSGHub:
//
//   - sku_type from the scene ([SKUTypeOfScene]);
//   - sku_unit_type from the scene ([UnitTypeOfScene]);
//   - sku_kind from the value type: duration (0) and quota (2) are kind 1;
//     count (3) is kind 7; tokens (1) are kind 4 (prompt) and kind 5
//     (completion) when extra carries "prompt_token_num" or
//     "completion_token_num" (integers, as JSON numbers or strings; a
//     missing one is 0; Book.RateIncoming refuses an event whose value is
//     not their sum, which stored events need not be), otherwise one
//     component of kind 4 with the value.
//     In the split, a part of zero tokens is left out, unless both are
//     zero, when one prompt component of 0 remains so that the event still
//     needs a price;
//   - resource_id is the event's.
//
// The event's extra may override the derived key: "sku_type" and
// "sku_kind" (non-negative and positive integers, as numbers or strings)
// and "sku_unit_type" (a non-empty string). An explicit "sku_kind" yields a
// single component of that kind with the event's value: no token split.
//
// Extra must be empty or a JSON object; anything else is an error, as is a
// malformed value under one of the keys above. Errors are *abacus.Error
// naming the field ("extra.prompt_token_num").
func Components(e *abacus.UsageEvent) ([]Component, error) {
	extra, err := parseExtra(e.Extra, nil)
	if err != nil {
		return nil, err
	}
	cs, _, err := components(e, extra, nil)
	return cs, err
}

// quantityField names the field of the event a component's quantity was
// read from, for errors about what it comes to: split says it is a token
// count in extra (components' split), not the event's value.
func quantityField(c Component, split bool) string {
	switch {
	case !split:
		return "value"
	case c.Key.SKUKind == KindCompletion:
		return "extra." + ExtraCompletionTokens
	}
	return "extra." + ExtraPromptTokens
}

// components splits e, appending to out (a buffer of the caller's). split
// says the quantities are extra's token counts, not the event's value.
func components(e *abacus.UsageEvent, extra extraFields, out []Component) (_ []Component, split bool, _ error) {
	if e.Value < 0 {
		return nil, false, abacus.Errorf(abacus.CodeInvalid, "value", "%d is negative", e.Value)
	}
	k := Key{SKUType: SKUTypeOfScene(e.Scene), ResourceID: e.ResourceID, UnitType: UnitTypeOfScene(e.Scene)}
	switch e.ValueType {
	case abacus.ValueDuration, abacus.ValueQuota:
		k.SKUKind = KindTime
	case abacus.ValueTokens:
		k.SKUKind = KindPrompt
	case abacus.ValueCount:
		k.SKUKind = KindMultimodalCompletion
	default:
		return nil, false, abacus.Errorf(abacus.CodeInvalid, "value_type", "%d is not one of 0 (duration), 1 (tokens), 2 (quota), 3 (count)", e.ValueType)
	}
	if v, ok, err := extraInt(extra, ExtraSKUType); err != nil {
		return nil, false, err
	} else if ok {
		if v < 0 || v > math.MaxInt32 {
			return nil, false, abacus.Errorf(abacus.CodeInvalid, "extra."+ExtraSKUType, "%d is not a sku_type", v)
		}
		k.SKUType = int(v)
	}
	if raw, ok := extra.get(ExtraSKUUnitType); ok && !isNull(raw) {
		var s string
		if err := json.Unmarshal([]byte(raw), &s); err != nil || strings.TrimSpace(s) == "" {
			return nil, false, abacus.Errorf(abacus.CodeInvalid, "extra."+ExtraSKUUnitType, "must be a non-empty string such as \"minute\"")
		}
		k.UnitType = s
	}
	kind, kindSet, err := extraInt(extra, ExtraSKUKind)
	if err != nil {
		return nil, false, err
	}
	// Of a token event's prompt tokens (all its value, without the split),
	// those served from the model's cache.
	var cached int64
	if e.ValueType == abacus.ValueTokens {
		if cached, _, err = extraInt(extra, ExtraCachedTokens); err != nil {
			return nil, false, err
		}
		if cached < 0 {
			return nil, false, abacus.Errorf(abacus.CodeInvalid, "extra."+ExtraCachedTokens, "%d is negative", cached)
		}
	}
	whole := func(k Key) ([]Component, error) {
		if k.SKUKind != KindPrompt {
			return append(out, Component{Key: k, Quantity: e.Value}), nil // no prompt tokens to have been cached
		}
		if cached > e.Value {
			return nil, abacus.Errorf(abacus.CodeInvalid, "extra."+ExtraCachedTokens, "%d is more than the event's %d tokens (value), of which it is a part", cached, e.Value)
		}
		return append(out, Component{Key: k, Quantity: e.Value, Cached: cached}), nil
	}
	if kindSet {
		if kind < 1 || kind > math.MaxInt32 {
			return nil, false, abacus.Errorf(abacus.CodeInvalid, "extra."+ExtraSKUKind, "%d is not a sku_kind", kind)
		}
		k.SKUKind = int(kind)
		cs, err := whole(k)
		return cs, false, err
	}
	if e.ValueType != abacus.ValueTokens {
		return append(out, Component{Key: k, Quantity: e.Value}), false, nil
	}
	prompt, hasPrompt, err := extraInt(extra, ExtraPromptTokens)
	if err != nil {
		return nil, false, err
	}
	completion, hasCompletion, err := extraInt(extra, ExtraCompletionTokens)
	if err != nil {
		return nil, false, err
	}
	if !hasPrompt && !hasCompletion {
		cs, err := whole(k)
		return cs, false, err
	}
	for _, f := range []struct {
		name string
		v    int64
	}{{ExtraPromptTokens, prompt}, {ExtraCompletionTokens, completion}} {
		if f.v < 0 {
			return nil, false, abacus.Errorf(abacus.CodeInvalid, "extra."+f.name, "%d is negative", f.v)
		}
	}
	if cached > prompt {
		return nil, false, abacus.Errorf(abacus.CodeInvalid, "extra."+ExtraCachedTokens, "%d is more than the %d prompt tokens (%s), of which it is a part", cached, prompt, ExtraPromptTokens)
	}
	if prompt > 0 || completion == 0 {
		out = append(out, Component{Key: k, Quantity: prompt, Cached: cached})
	}
	if completion > 0 {
		c := k
		c.SKUKind = KindCompletion
		out = append(out, Component{Key: c, Quantity: completion})
	}
	return out, true, nil
}

func isNull(raw string) bool { return strings.TrimSpace(raw) == "null" }

// extraInt reads extra[key] as an integer written as a JSON number or a
// string of digits ("12", 12). A missing key or null is (0, false, nil).
// Fractions, exponents and anything else are errors naming the field.
func extraInt(extra extraFields, key string) (int64, bool, error) {
	raw, ok := extra.get(key)
	if !ok || isNull(raw) {
		return 0, false, nil
	}
	text := strings.TrimSpace(raw)
	if strings.HasPrefix(text, `"`) {
		if plain, ok := plainStringText(text); ok {
			text = plain
		} else if err := json.Unmarshal([]byte(raw), &text); err != nil {
			return 0, false, abacus.Errorf(abacus.CodeInvalid, "extra."+key, "is not a string or an integer")
		}
		text = strings.TrimSpace(text)
	}
	if !isInteger(text) {
		return 0, false, abacus.Errorf(abacus.CodeInvalid, "extra."+key, "%s is not an integer", clip(text))
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return 0, false, abacus.Errorf(abacus.CodeOverflow, "extra."+key, "%s does not fit in 64 bits", clip(text))
	}
	return n, true, nil
}

// extraBool reads extra[key] as a JSON boolean or the string "true" or
// "false". A missing key or null is (false, false, nil).
func extraBool(extra extraFields, key string) (bool, bool, error) {
	raw, ok := extra.get(key)
	if !ok || isNull(raw) {
		return false, false, nil
	}
	switch raw {
	case "true", `"true"`:
		return true, true, nil
	case "false", `"false"`:
		return false, true, nil
	}
	var b bool
	if err := json.Unmarshal([]byte(raw), &b); err == nil {
		return b, true, nil
	}
	shown := raw // a string as its text, not quoted twice (QA)
	var s string
	if err := json.Unmarshal([]byte(raw), &s); err == nil {
		shown = s
		switch s {
		case "true":
			return true, true, nil
		case "false":
			return false, true, nil
		}
	}
	return false, false, abacus.Errorf(abacus.CodeInvalid, "extra."+key, "%s is not true or false", clip(shown))
}

// isInteger reports whether s is an optional minus sign and digits.
func isInteger(s string) bool {
	s = strings.TrimPrefix(s, "-")
	return s != "" && allDigits(s)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func clip(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strconv.Quote(s)
}
