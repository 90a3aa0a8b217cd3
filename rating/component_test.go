package rating_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/rating"
)

// TestComponentsEverySceneAndValueType checks the key derived for every
// CSGHub scene and every value type.
func TestComponentsEverySceneAndValueType(t *testing.T) {
	scenes := []struct {
		scene    int
		skuType  int
		unitType string
	}{
		{0, 0, "minute"}, {1, 0, "minute"}, {2, 0, "minute"}, {3, 0, "minute"}, {4, 0, "minute"},
		{10, 1, "minute"}, {11, 1, "minute"}, {12, 1, "minute"}, {13, 1, "repository"}, {14, 1, "minute"},
		{15, 1, "token"}, {16, 1, "count"},
		{20, 2, "token"}, {22, 2, "token"},
		{40, 0, "minute"}, {41, 0, "minute"}, {99, 0, "minute"},
	}
	kinds := map[int]int{abacus.ValueDuration: 1, abacus.ValueTokens: 4, abacus.ValueQuota: 1, abacus.ValueCount: 7}
	for _, s := range scenes {
		for vt, kind := range kinds {
			e := &abacus.UsageEvent{Value: 42, ValueType: vt, Scene: s.scene, ResourceID: "res", Time: jan10}
			got, err := rating.Components(e)
			if err != nil {
				t.Fatalf("scene %d value type %d: %v", s.scene, vt, err)
			}
			want := []rating.Component{{Key: rating.Key{SKUType: s.skuType, SKUKind: kind, ResourceID: "res", UnitType: s.unitType}, Quantity: 42}}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("scene %d value type %d: %+v, want %+v", s.scene, vt, got, want)
			}
		}
	}
}

func TestComponentsExtra(t *testing.T) {
	tok := func(k int) rating.Key { return rating.Key{SKUType: 1, SKUKind: k, ResourceID: "m", UnitType: "token"} }
	for _, tc := range []struct {
		name  string
		vt    int
		scene int
		extra string
		want  []rating.Component
		err   string // the field of the expected error
	}{
		{name: "tokens, no split", vt: 1, extra: `{"owner_type":"3"}`, want: []rating.Component{{tok(4), 300, 0}}},
		{name: "tokens, strings", vt: 1, extra: `{"prompt_token_num":"200","completion_token_num":"100"}`, want: []rating.Component{{tok(4), 200, 0}, {tok(5), 100, 0}}},
		{name: "tokens, numbers", vt: 1, extra: `{"prompt_token_num":200,"completion_token_num":100}`, want: []rating.Component{{tok(4), 200, 0}, {tok(5), 100, 0}}},
		{name: "tokens, sum differs from value", vt: 1, extra: `{"prompt_token_num":"7","completion_token_num":"5"}`, want: []rating.Component{{tok(4), 7, 0}, {tok(5), 5, 0}}},
		{name: "tokens, prompt only", vt: 1, extra: `{"prompt_token_num":"200"}`, want: []rating.Component{{tok(4), 200, 0}}},
		{name: "tokens, completion only", vt: 1, extra: `{"completion_token_num":"100"}`, want: []rating.Component{{tok(5), 100, 0}}},
		{name: "tokens, zero prompt", vt: 1, extra: `{"prompt_token_num":"0","completion_token_num":"100"}`, want: []rating.Component{{tok(5), 100, 0}}},
		{name: "tokens, both zero", vt: 1, extra: `{"prompt_token_num":0,"completion_token_num":"0"}`, want: []rating.Component{{tok(4), 0, 0}}},
		{name: "tokens, null counts", vt: 1, extra: `{"prompt_token_num":null}`, want: []rating.Component{{tok(4), 300, 0}}},
		{name: "cached tokens are a part of the prompt", vt: 1, extra: `{"prompt_token_num":"200","prompt_token_cache_num":"50","completion_token_num":"1"}`, want: []rating.Component{{tok(4), 200, 50}, {tok(5), 1, 0}}},
		{name: "all the prompt cached", vt: 1, extra: `{"prompt_token_num":"200","prompt_token_cache_num":200}`, want: []rating.Component{{tok(4), 200, 200}}},
		{name: "more cached than prompt", vt: 1, extra: `{"prompt_token_num":"200","prompt_token_cache_num":"201"}`, err: "extra.prompt_token_cache_num"},
		{name: "negative cached", vt: 1, extra: `{"prompt_token_num":"200","prompt_token_cache_num":"-1"}`, err: "extra.prompt_token_cache_num"},
		{name: "cached without the split: of the value", vt: 1, extra: `{"prompt_token_cache_num":"100"}`, want: []rating.Component{{tok(4), 300, 100}}},
		{name: "cached without the split, more than the value", vt: 1, extra: `{"prompt_token_cache_num":301}`, err: "extra.prompt_token_cache_num"},
		{name: "cached without the split, not a number", vt: 1, extra: `{"prompt_token_cache_num":"abc"}`, err: "extra.prompt_token_cache_num"},
		{name: "cached with sku_kind 4", vt: 1, extra: `{"sku_kind":4,"prompt_token_cache_num":"100"}`, want: []rating.Component{{tok(4), 300, 100}}},
		{name: "cached with another sku_kind: no prompt tokens", vt: 1, extra: `{"sku_kind":"6","prompt_token_cache_num":"100"}`, want: []rating.Component{{tok(6), 300, 0}}},
		{name: "empty extra", vt: 1, extra: ``, want: []rating.Component{{tok(4), 300, 0}}},
		{name: "null extra", vt: 1, extra: `null`, want: []rating.Component{{tok(4), 300, 0}}},
		{name: "override kind disables the split", vt: 1, extra: `{"sku_kind":"6","prompt_token_num":"200"}`, want: []rating.Component{{tok(6), 300, 0}}},
		{name: "override type and unit", vt: 0, scene: 11, extra: `{"sku_type":2,"sku_unit_type":"second"}`,
			want: []rating.Component{{rating.Key{SKUType: 2, SKUKind: 1, ResourceID: "m", UnitType: "second"}, 300, 0}}},
		{name: "override applies to the split", vt: 1, extra: `{"sku_unit_type":"ktoken","prompt_token_num":1,"completion_token_num":2}`,
			want: []rating.Component{{rating.Key{SKUType: 1, SKUKind: 4, ResourceID: "m", UnitType: "ktoken"}, 1, 0}, {rating.Key{SKUType: 1, SKUKind: 5, ResourceID: "m", UnitType: "ktoken"}, 2, 0}}},
		{name: "not JSON", vt: 1, extra: `prompt=1`, err: "extra"},
		{name: "not an object", vt: 1, extra: `[1]`, err: "extra"},
		{name: "fractional tokens", vt: 1, extra: `{"prompt_token_num":"1.5"}`, err: "extra.prompt_token_num"},
		{name: "exponent tokens", vt: 1, extra: `{"completion_token_num":1e3}`, err: "extra.completion_token_num"},
		{name: "negative tokens", vt: 1, extra: `{"prompt_token_num":"-1"}`, err: "extra.prompt_token_num"},
		{name: "word tokens", vt: 1, extra: `{"prompt_token_num":"many"}`, err: "extra.prompt_token_num"},
		{name: "boolean tokens", vt: 1, extra: `{"prompt_token_num":true}`, err: "extra.prompt_token_num"},
		{name: "huge tokens", vt: 1, extra: `{"prompt_token_num":"99999999999999999999"}`, err: "extra.prompt_token_num"},
		{name: "bad kind", vt: 1, extra: `{"sku_kind":0}`, err: "extra.sku_kind"},
		{name: "bad type", vt: 1, extra: `{"sku_type":-1}`, err: "extra.sku_type"},
		{name: "bad unit type", vt: 1, extra: `{"sku_unit_type":""}`, err: "extra.sku_unit_type"},
		{name: "numeric unit type", vt: 1, extra: `{"sku_unit_type":5}`, err: "extra.sku_unit_type"},
	} {
		scene := tc.scene
		if scene == 0 {
			scene = 15
		}
		e := &abacus.UsageEvent{Value: 300, ValueType: tc.vt, Scene: scene, ResourceID: "m", Time: jan10, Extra: tc.extra}
		got, err := rating.Components(e)
		if tc.err != "" {
			var ae *abacus.Error
			if !errors.As(err, &ae) || ae.Field != tc.err || ae.Code == "" {
				t.Errorf("%s: error %v, want one naming %s", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestSceneTables(t *testing.T) {
	for scene := -1; scene <= 100; scene++ {
		ty, ut := rating.SKUTypeOfScene(scene), rating.UnitTypeOfScene(scene)
		switch {
		case scene >= 10 && scene <= 16:
			if ty != 1 {
				t.Errorf("scene %d: sku_type %d", scene, ty)
			}
		case scene == 20 || scene == 22:
			if ty != 2 {
				t.Errorf("scene %d: sku_type %d", scene, ty)
			}
		default:
			if ty != 0 || ut != "minute" {
				t.Errorf("scene %d: %d %s", scene, ty, ut)
			}
		}
	}
	if got := fmt.Sprint(rating.Key{1, 4, "m", "token"}); got != `sku_type 1, sku_kind 4, resource_id "m", sku_unit_type "token"` {
		t.Errorf("Key.String: %s", got)
	}
	// A key not in NFC shows its combining marks escaped, not composed (QA).
	if got := fmt.Sprint(rating.Key{1, 4, "cafe\u0301", "token"}); !strings.Contains(got, `resource_id "cafe\u0301"`) {
		t.Errorf("Key.String of a decomposed key: %s", got)
	}
}
