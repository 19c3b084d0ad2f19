package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Decoder is implemented by setting types that read their own text form
// (Targets, ImportRules).
type Decoder interface {
	Decode(value string) error
}

var (
	decoderType  = reflect.TypeFor[Decoder]()
	durationType = reflect.TypeFor[time.Duration]()
)

// ProcessFrom fills the `env`-tagged fields of the struct spec points to
// from getenv, honouring `default` tags; an empty (or all-blank) value is
// an unset one. It
// understands the field kinds this project's settings use: strings,
// integers, booleans, floats, durations, comma-separated string lists
// (items trimmed, empty items dropped) and Decoder implementations. Errors
// name the variable, never its value.
//
// It replaces github.com/kelseyhightower/envconfig: envconfig reads only
// the process environment (the local stack needs a lookup function), tells
// "set to empty" from "unset" (the rule here is that they are the same), and
// quotes the value in its errors. One small loader does all three right.
func ProcessFrom(getenv func(string) string, spec any) error {
	v := reflect.ValueOf(spec)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("ProcessFrom wants a pointer to a struct, got %T", spec)
	}
	v = v.Elem()
	for i := range v.NumField() {
		sf := v.Type().Field(i)
		key := sf.Tag.Get("env")
		if key == "" || !sf.IsExported() {
			continue
		}
		val := getenv(key)
		if strings.TrimSpace(val) == "" {
			val = sf.Tag.Get("default")
		}
		if val == "" {
			continue
		}
		if err := setField(v.Field(i), val); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
	}
	return nil
}

func setField(f reflect.Value, val string) error {
	if f.CanAddr() && f.Addr().Type().Implements(decoderType) {
		return f.Addr().Interface().(Decoder).Decode(val)
	}
	if f.Type() == durationType {
		d, err := time.ParseDuration(val)
		if err != nil {
			return fmt.Errorf("not a duration (e.g. 90s, 5m, 6h)")
		}
		f.SetInt(int64(d))
		return nil
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(val)
	case reflect.Bool:
		b, err := strconv.ParseBool(val)
		if err != nil {
			return fmt.Errorf("not a boolean (true or false)")
		}
		f.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(val, 0, f.Type().Bits())
		if err != nil {
			return fmt.Errorf("not an integer")
		}
		f.SetInt(n)
	case reflect.Float32, reflect.Float64:
		x, err := strconv.ParseFloat(val, f.Type().Bits())
		if err != nil {
			return fmt.Errorf("not a number")
		}
		f.SetFloat(x)
	case reflect.Slice:
		if f.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("unsupported list type %s", f.Type())
		}
		s := reflect.MakeSlice(f.Type(), 0, strings.Count(val, ",")+1)
		for p := range strings.SplitSeq(val, ",") {
			if p = strings.TrimSpace(p); p != "" {
				s = reflect.Append(s, reflect.ValueOf(p).Convert(f.Type().Elem()))
			}
		}
		f.Set(s)
	default:
		return fmt.Errorf("unsupported field type %s", f.Type())
	}
	return nil
}
