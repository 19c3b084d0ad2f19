package descriptor

import (
	"fmt"
	"os"
	"sort"

	"gopkg.in/yaml.v3"
)

// Serverless is the part of a multi-scf serverless.yml backupflow uses.
type Serverless struct {
	App       string `yaml:"app"`
	Component string `yaml:"component"`
	Name      string `yaml:"name"`
	Inputs    struct {
		Region       string              `yaml:"region"`
		Runtime      string              `yaml:"runtime"`
		MemorySize   int                 `yaml:"memorySize"`
		Timeout      int                 `yaml:"timeout"`
		Role         string              `yaml:"role"`
		Environments []KV                `yaml:"environments"`
		Functions    map[string]Function `yaml:"functions"`
		Triggers     []Trigger           `yaml:"triggers"`
	} `yaml:"inputs"`
}

// KV is one environment variable.
type KV struct {
	Key   string `yaml:"key"`
	Value string `yaml:"value"`
}

// Function is one SCF function; zero fields inherit the inputs' defaults.
type Function struct {
	Src          string `yaml:"src"`
	Handler      string `yaml:"handler"`
	Type         string `yaml:"type"` // "event" (default) or "web"
	Runtime      string `yaml:"runtime"`
	MemorySize   int    `yaml:"memorySize"`
	Timeout      int    `yaml:"timeout"`
	RetryNum     *int   `yaml:"retryNum"`
	Environments []KV   `yaml:"environments"`
}

// Trigger is one trigger; Parameters depend on Type.
type Trigger struct {
	Type       string     `yaml:"type"`
	Function   string     `yaml:"function"`
	Parameters Parameters `yaml:"parameters"`
}

// Parameters covers the timer and cos trigger fields.
type Parameters struct {
	Name           string `yaml:"name"`
	CronExpression string `yaml:"cronExpression"`
	Enable         *bool  `yaml:"enable"`
	Argument       string `yaml:"argument"`
	Bucket         string `yaml:"bucket"`
	Events         string `yaml:"events"`
	Filter         struct {
		Prefix string `yaml:"prefix"`
		Suffix string `yaml:"suffix"`
	} `yaml:"filter"`
}

// Enabled reports whether the trigger is on (absent means on).
func (p Parameters) Enabled() bool { return p.Enable == nil || *p.Enable }

// LoadServerless reads and checks a serverless.yml.
func LoadServerless(path string) (*Serverless, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("serverless.yml: %w", err)
	}
	return ParseServerless(b)
}

// ParseServerless parses serverless.yml bytes.
func ParseServerless(b []byte) (*Serverless, error) {
	var s Serverless
	if err := yaml.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("serverless.yml: %w", err)
	}
	if len(s.Inputs.Functions) == 0 {
		return nil, fmt.Errorf("serverless.yml: no functions under inputs.functions")
	}
	for i, t := range s.Inputs.Triggers {
		if _, ok := s.Inputs.Functions[t.Function]; !ok {
			return nil, fmt.Errorf("serverless.yml: trigger %d (%s) names unknown function %q", i, t.Type, t.Function)
		}
	}
	return &s, nil
}

// FunctionNames lists the functions, sorted.
func (s *Serverless) FunctionNames() []string {
	var out []string
	for n := range s.Inputs.Functions {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Env returns a function's environment: the common variables overlaid with
// the function's own.
func (s *Serverless) Env(function string) map[string]string {
	env := map[string]string{}
	for _, kv := range s.Inputs.Environments {
		env[kv.Key] = kv.Value
	}
	for _, kv := range s.Inputs.Functions[function].Environments {
		env[kv.Key] = kv.Value
	}
	return env
}

// TriggersOf returns a function's triggers of one type ("" for all).
func (s *Serverless) TriggersOf(function, typ string) []Trigger {
	var out []Trigger
	for _, t := range s.Inputs.Triggers {
		if t.Function == function && (typ == "" || t.Type == typ) {
			out = append(out, t)
		}
	}
	return out
}
