package scfinvoke

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// parseEnvironment decodes the Environment field of an invoke request: a
// JSON object of string values. Empty and "null" mean no variables. Keys
// os.Setenv would reject (empty, containing '=' or NUL) are errors, so a bad
// request fails as a whole before any variable is applied.
func parseEnvironment(s string) (map[string]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	dec := json.NewDecoder(strings.NewReader(s))
	var env map[string]string
	if err := dec.Decode(&env); err != nil {
		// Never echo the input or the decoder's message: the text carries the
		// role's temporary credentials.
		return nil, errors.New("scfinvoke: environment is not a JSON object of strings")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("scfinvoke: environment has data after the JSON object")
	}
	for k, v := range env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return nil, fmt.Errorf("scfinvoke: environment has an invalid variable name %q", k)
		}
		if strings.ContainsRune(v, 0) {
			return nil, fmt.Errorf("scfinvoke: environment variable %s has a NUL byte", k)
		}
	}
	return env, nil
}
