package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
)

func asError(err error, target any) bool { return errors.As(err, target) }

var timeType = reflect.TypeFor[time.Time]()

// diff returns where got differs from want, or "" if they are the same.
// Times are the same if they are the same instant and got is in UTC (a
// zero want needs a zero got); nil and empty slices are the same.
func diff(got, want any) string {
	return diffValue("", reflect.ValueOf(got), reflect.ValueOf(want))
}

func diffValue(path string, g, w reflect.Value) string {
	if !g.IsValid() || !w.IsValid() {
		if g.IsValid() != w.IsValid() {
			return fmt.Sprintf("%s: got %v, want %v", orRoot(path), g, w)
		}
		return ""
	}
	if g.Type() != w.Type() {
		return fmt.Sprintf("%s: got type %s, want %s", orRoot(path), g.Type(), w.Type())
	}
	if g.Type() == timeType {
		gt, wt := g.Interface().(time.Time), w.Interface().(time.Time)
		switch {
		case wt.IsZero() && !gt.IsZero():
			return fmt.Sprintf("%s: got %s, want the zero time", orRoot(path), gt)
		case !gt.Equal(wt):
			return fmt.Sprintf("%s: got %s, want %s", orRoot(path), gt.Format(time.RFC3339Nano), wt.Format(time.RFC3339Nano))
		case !gt.IsZero() && gt.Location() != time.UTC:
			return fmt.Sprintf("%s: got %s in %s, want UTC", orRoot(path), gt, gt.Location())
		}
		return ""
	}
	switch g.Kind() {
	case reflect.Struct:
		for i := range g.NumField() {
			f := g.Type().Field(i)
			if d := diffValue(path+"."+f.Name, g.Field(i), w.Field(i)); d != "" {
				return d
			}
		}
		return ""
	case reflect.Slice, reflect.Array:
		if g.Len() != w.Len() {
			return fmt.Sprintf("%s: got %d elements, want %d\n got: %s\nwant: %s", orRoot(path), g.Len(), w.Len(), show(g), show(w))
		}
		for i := range g.Len() {
			if d := diffValue(fmt.Sprintf("%s[%d]", path, i), g.Index(i), w.Index(i)); d != "" {
				return d
			}
		}
		return ""
	case reflect.Map:
		if g.Len() != w.Len() {
			return fmt.Sprintf("%s: got %s, want %s", orRoot(path), show(g), show(w))
		}
		for _, k := range w.MapKeys() {
			gv := g.MapIndex(k)
			if !gv.IsValid() {
				return fmt.Sprintf("%s: got %s, want %s", orRoot(path), show(g), show(w))
			}
			if d := diffValue(fmt.Sprintf("%s[%v]", path, k), gv, w.MapIndex(k)); d != "" {
				return d
			}
		}
		return ""
	case reflect.Pointer, reflect.Interface:
		if g.IsNil() || w.IsNil() {
			if g.IsNil() != w.IsNil() {
				return fmt.Sprintf("%s: got %s, want %s", orRoot(path), show(g), show(w))
			}
			return ""
		}
		return diffValue(path, g.Elem(), w.Elem())
	case reflect.String:
		if g.String() != w.String() {
			return fmt.Sprintf("%s: got %q, want %q", orRoot(path), g.String(), w.String())
		}
	case reflect.Bool:
		if g.Bool() != w.Bool() {
			return fmt.Sprintf("%s: got %v, want %v", orRoot(path), g.Bool(), w.Bool())
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if g.Int() != w.Int() {
			return fmt.Sprintf("%s: got %d, want %d", orRoot(path), g.Int(), w.Int())
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if g.Uint() != w.Uint() {
			return fmt.Sprintf("%s: got %d, want %d", orRoot(path), g.Uint(), w.Uint())
		}
	default:
		panic("storetest: diff cannot compare " + g.Kind().String())
	}
	return ""
}

func orRoot(path string) string {
	if path == "" {
		return "value"
	}
	if path[0] == '.' {
		return path[1:]
	}
	return path
}

func show(v reflect.Value) string {
	if v.CanInterface() {
		return fmt.Sprintf("%+v", v.Interface())
	}
	return v.String()
}

// same fails the test if got differs from want.
func same(t testing.TB, what string, got, want any) {
	t.Helper()
	if d := diff(got, want); d != "" {
		t.Fatalf("%s: %s", what, d)
	}
}
