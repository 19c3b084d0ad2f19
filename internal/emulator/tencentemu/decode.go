package tencentemu

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// kind is the wire type of one action parameter.
type kind int

const (
	kString kind = iota
	kInt
	kBool
	kStrings
	kInts
	kObjects
)

// field describes one parameter of an action. Sub describes the members of
// each object in a kObjects array.
type field struct {
	Name     string
	Kind     kind
	Required bool
	Sub      []field
}

func find(spec []field, name string) (field, bool) {
	for _, f := range spec {
		if f.Name == name {
			return f, true
		}
	}
	return field{}, false
}

// commonParams are the API 3.0 / v1 common parameters that may travel in a
// query string or form body next to the action's own parameters. They are
// never action parameters, so they are never UnknownParameter.
var commonParams = map[string]bool{
	"Action": true, "Version": true, "Region": true, "Timestamp": true, "Nonce": true,
	"SecretId": true, "Signature": true, "SignatureMethod": true, "Token": true,
	"Language": true, "RequestClient": true,
}

// decodeJSON checks a JSON body against spec and returns the parameters as
// plain Go values (string, int64, bool, []string, []int64, []map[string]any).
// JSON null counts as absent, as the cloud treats it.
func decodeJSON(body []byte, spec []field) (map[string]any, *apiError) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return nil, errf(codeInvalidParameter, "the request body is not valid JSON: %v", err)
	}
	if dec.More() {
		return nil, errf(codeInvalidParameter, "the request body holds more than one JSON value")
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return nil, errf(codeInvalidParameter, "the request body must be a JSON object")
	}
	return convertObject(obj, spec, "")
}

func convertObject(obj map[string]any, spec []field, prefix string) (map[string]any, *apiError) {
	out := map[string]any{}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic first error
	for _, k := range keys {
		v := obj[k]
		f, ok := find(spec, k)
		if !ok {
			return nil, errf(codeUnknownParameter, "The parameter `%s%s` is not recognized.", prefix, k)
		}
		if v == nil {
			continue
		}
		cv, aerr := convertValue(v, f, prefix+k)
		if aerr != nil {
			return nil, aerr
		}
		out[k] = cv
	}
	if aerr := checkRequired(out, spec, prefix); aerr != nil {
		return nil, aerr
	}
	return out, nil
}

func checkRequired(out map[string]any, spec []field, prefix string) *apiError {
	for _, f := range spec {
		if !f.Required {
			continue
		}
		if _, ok := out[f.Name]; !ok {
			return errf(codeMissingParameter, "The request is missing a required parameter `%s%s`.", prefix, f.Name)
		}
	}
	return nil
}

func typeErr(name, want string) *apiError {
	return errf(codeInvalidParameter, "The type of parameter `%s` must be %s.", name, want)
}

func toInt(v any, name string) (int64, *apiError) {
	switch n := v.(type) {
	case json.Number:
		i, err := strconv.ParseInt(n.String(), 10, 64)
		if err != nil {
			return 0, typeErr(name, "an integer")
		}
		return i, nil
	case string: // form values arrive as text
		i, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
		if err != nil {
			return 0, typeErr(name, "an integer")
		}
		return i, nil
	}
	return 0, typeErr(name, "an integer")
}

// convertValue converts one JSON (or, via form decoding, textual) value.
// Strictness is deliberate: a string where an integer belongs (or the reverse)
// is a bug in the caller's request struct that the real cloud rejects too.
func convertValue(v any, f field, name string) (any, *apiError) {
	switch f.Kind {
	case kString:
		s, ok := v.(string)
		if !ok {
			return nil, typeErr(name, "a string")
		}
		return s, nil
	case kInt:
		if _, ok := v.(string); ok {
			return nil, typeErr(name, "an integer")
		}
		return toInt(v, name)
	case kBool:
		b, ok := v.(bool)
		if !ok {
			return nil, typeErr(name, "a boolean")
		}
		return b, nil
	case kStrings:
		arr, ok := v.([]any)
		if !ok {
			return nil, typeErr(name, "an array of strings")
		}
		out := make([]string, 0, len(arr))
		for i, e := range arr {
			s, ok := e.(string)
			if !ok {
				return nil, typeErr(fmt.Sprintf("%s.%d", name, i), "a string")
			}
			out = append(out, s)
		}
		return out, nil
	case kInts:
		arr, ok := v.([]any)
		if !ok {
			return nil, typeErr(name, "an array of integers")
		}
		out := make([]int64, 0, len(arr))
		for i, e := range arr {
			if _, ok := e.(string); ok {
				return nil, typeErr(fmt.Sprintf("%s.%d", name, i), "an integer")
			}
			n, aerr := toInt(e, fmt.Sprintf("%s.%d", name, i))
			if aerr != nil {
				return nil, aerr
			}
			out = append(out, n)
		}
		return out, nil
	case kObjects:
		arr, ok := v.([]any)
		if !ok {
			return nil, typeErr(name, "an array of objects")
		}
		out := make([]map[string]any, 0, len(arr))
		for i, e := range arr {
			obj, ok := e.(map[string]any)
			if !ok {
				return nil, typeErr(fmt.Sprintf("%s.%d", name, i), "an object")
			}
			m, aerr := convertObject(obj, f.Sub, fmt.Sprintf("%s.%d.", name, i))
			if aerr != nil {
				return nil, aerr
			}
			out = append(out, m)
		}
		return out, nil
	}
	return nil, errf(codeInternalError, "parameter %s has an unknown kind", name)
}

// decodeForm checks flattened query/form parameters (X=v, X.N=v, X.N.Field=v)
// against spec, coercing text to each parameter's type.
func decodeForm(values url.Values, spec []field) (map[string]any, *apiError) {
	// Rebuild the JSON shape first so the typed conversion is shared.
	obj := map[string]any{}
	arrays := map[string]map[int]any{} // top name -> index -> string or map[string]any
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if commonParams[k] {
			continue
		}
		v := values.Get(k)
		parts := strings.Split(k, ".")
		f, ok := find(spec, parts[0])
		if !ok {
			return nil, errf(codeUnknownParameter, "The parameter `%s` is not recognized.", k)
		}
		switch f.Kind {
		case kString, kInt, kBool:
			if len(parts) != 1 {
				return nil, errf(codeUnknownParameter, "The parameter `%s` is not recognized.", k)
			}
			switch f.Kind {
			case kString:
				obj[k] = v
			case kInt:
				obj[k] = json.Number(strings.TrimSpace(v))
			case kBool:
				b, err := strconv.ParseBool(v)
				if err != nil {
					return nil, typeErr(k, "a boolean")
				}
				obj[k] = b
			}
		case kStrings, kInts, kObjects:
			if len(parts) < 2 {
				return nil, typeErr(k, "an array (send it as "+k+".0, "+k+".1, ...)")
			}
			idx, err := strconv.Atoi(parts[1])
			if err != nil || idx < 0 || idx > 10000 {
				return nil, errf(codeUnknownParameter, "The parameter `%s` is not recognized.", k)
			}
			if arrays[parts[0]] == nil {
				arrays[parts[0]] = map[int]any{}
			}
			if f.Kind != kObjects {
				if len(parts) != 2 {
					return nil, errf(codeUnknownParameter, "The parameter `%s` is not recognized.", k)
				}
				if f.Kind == kInts {
					arrays[parts[0]][idx] = json.Number(strings.TrimSpace(v))
				} else {
					arrays[parts[0]][idx] = v
				}
				continue
			}
			if len(parts) < 3 {
				return nil, typeErr(k, "an object (send its members as "+k+".Name)")
			}
			sub, ok := find(f.Sub, parts[2])
			if !ok || (len(parts) > 3 && sub.Kind != kStrings && sub.Kind != kInts) || (len(parts) == 3 && (sub.Kind == kStrings || sub.Kind == kInts)) {
				return nil, errf(codeUnknownParameter, "The parameter `%s` is not recognized.", k)
			}
			m, _ := arrays[parts[0]][idx].(map[string]any)
			if m == nil {
				m = map[string]any{}
				arrays[parts[0]][idx] = m
			}
			if len(parts) == 3 {
				switch sub.Kind {
				case kInt:
					m[parts[2]] = json.Number(strings.TrimSpace(v))
				case kBool:
					b, err := strconv.ParseBool(v)
					if err != nil {
						return nil, typeErr(k, "a boolean")
					}
					m[parts[2]] = b
				default:
					m[parts[2]] = v
				}
				continue
			}
			// X.N.Field.M: an array member of an object (tag GetResources TagValue).
			if len(parts) != 4 {
				return nil, errf(codeUnknownParameter, "The parameter `%s` is not recognized.", k)
			}
			j, err := strconv.Atoi(parts[3])
			if err != nil || j < 0 || j > 10000 {
				return nil, errf(codeUnknownParameter, "The parameter `%s` is not recognized.", k)
			}
			inner, _ := m[parts[2]].(map[int]any)
			if inner == nil {
				inner = map[int]any{}
				m[parts[2]] = inner
			}
			if sub.Kind == kInts {
				inner[j] = json.Number(strings.TrimSpace(v))
			} else {
				inner[j] = v
			}
		}
	}
	for name, byIdx := range arrays {
		arr := compact(byIdx)
		for i, e := range arr {
			if m, ok := e.(map[string]any); ok {
				for mk, mv := range m {
					if inner, ok := mv.(map[int]any); ok {
						m[mk] = compact(inner)
					}
				}
				arr[i] = m
			}
		}
		obj[name] = arr
	}
	return convertObject(obj, spec, "")
}

// compact orders sparse indexes (DBNames.0, DBNames.2) into a dense array.
func compact(byIdx map[int]any) []any {
	idx := make([]int, 0, len(byIdx))
	for i := range byIdx {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	out := make([]any, 0, len(idx))
	for _, i := range idx {
		out = append(out, byIdx[i])
	}
	return out
}

// bind turns decoded parameters into a typed request struct.
func bind(p map[string]any, dst any) error {
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("bind parameters: %w", err)
	}
	if err := json.Unmarshal(b, dst); err != nil {
		return fmt.Errorf("bind parameters: %w", err)
	}
	return nil
}
