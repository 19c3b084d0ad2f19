package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"
)

// LoadFrom is Load over a lookup function instead of the process
// environment, so one process can hold several configurations side by side
// (the local stack wires each function from its own serverless.yml
// environment). An empty value counts as unset and takes the default.
func LoadFrom(getenv func(string) string) (Config, error) {
	var c Config
	if err := ProcessFrom(getenv, &c); err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	if err := c.validate(); err != nil {
		return c, err
	}
	return c, nil
}

var (
	decoderType  = reflect.TypeFor[envconfig.Decoder]()
	durationType = reflect.TypeFor[time.Duration]()
)

// ProcessFrom fills the `envconfig`-tagged fields of the struct spec points
// to from getenv, honouring `default` tags. It understands the field kinds
// this project's settings use: strings, integers, booleans, floats,
// durations, comma-separated string lists and envconfig.Decoder
// implementations. Errors name the variable, never its value.
func ProcessFrom(getenv func(string) string, spec any) error {
	v := reflect.ValueOf(spec)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("ProcessFrom wants a pointer to a struct, got %T", spec)
	}
	v = v.Elem()
	for i := range v.NumField() {
		sf := v.Type().Field(i)
		key := sf.Tag.Get("envconfig")
		if key == "" || !sf.IsExported() {
			continue
		}
		val := getenv(key)
		if val == "" {
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
		return f.Addr().Interface().(envconfig.Decoder).Decode(val)
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
		parts := strings.Split(val, ",")
		s := reflect.MakeSlice(f.Type(), len(parts), len(parts))
		for i, p := range parts {
			s.Index(i).SetString(p)
		}
		f.Set(s)
	default:
		return fmt.Errorf("unsupported field type %s", f.Type())
	}
	return nil
}
