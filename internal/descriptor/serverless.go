package descriptor

import (
	"fmt"
	"os"
	"sort"
	"strings"

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
	// Ext is backupflow's own top-level block, which the component ignores.
	Ext Extension `yaml:"x-backupflow"`
}

// Extension is the x-backupflow block: what the multi-scf component cannot
// deploy (the CMQ queues) and the variables deliberately left unset.
type Extension struct {
	Queues      []CMQQueue   `yaml:"queues"`
	Environment EnvCatalogue `yaml:"environment"`
}

// CMQQueue is one TDMQ-for-CMQ queue to create before deploying; the field
// names follow CreateCmqQueue (MaxUnackSeconds is its MsgRetentionSeconds).
type CMQQueue struct {
	Name               string `yaml:"name"`
	VisibilityTimeout  int    `yaml:"visibilityTimeout"`
	MaxUnackSeconds    int    `yaml:"maxUnackSeconds"`
	PollingWaitSeconds int    `yaml:"pollingWaitSeconds"`
	RewindSeconds      int    `yaml:"rewindSeconds"`
	DeadLetter         *struct {
		Queue           string `yaml:"queue"`
		Policy          int    `yaml:"policy"`
		MaxReceiveCount int    `yaml:"maxReceiveCount"`
	} `yaml:"deadLetter"`
}

// EnvCatalogue lists, by reason, the variables a descriptor does not set.
type EnvCatalogue struct {
	Platform []string `yaml:"platform"` // set by the platform itself
	Local    []string `yaml:"local"`    // emulator and laptop runs only
	Defaults []string `yaml:"defaults"` // the built-in default applies
	Optional []string `yaml:"optional"` // a feature that is off until set
}

// All returns every catalogued variable with its category.
func (c EnvCatalogue) All() map[string]string {
	out := map[string]string{}
	for cat, names := range map[string][]string{"platform": c.Platform, "local": c.Local, "defaults": c.Defaults, "optional": c.Optional} {
		for _, n := range names {
			out[n] = cat
		}
	}
	return out
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
// the function's own. A value that is a `${env:NAME}` reference is resolved
// from the process environment, as `sls` does at deploy time; a reference to
// an unset variable leaves the key out so the built-in default applies
// (a literal "${env:...}" would only confuse the config parser).
func (s *Serverless) Env(function string) map[string]string {
	return s.EnvWith(function, os.Getenv)
}

// EnvWith is Env with the references resolved through getenv.
func (s *Serverless) EnvWith(function string, getenv func(string) string) map[string]string {
	env := map[string]string{}
	set := func(kv KV) {
		v := kv.Value
		if name, ok := EnvRef(v); ok {
			if v = getenv(name); v == "" {
				delete(env, kv.Key)
				return
			}
		}
		env[kv.Key] = v
	}
	for _, kv := range s.Inputs.Environments {
		set(kv)
	}
	for _, kv := range s.Inputs.Functions[function].Environments {
		set(kv)
	}
	return env
}

// EnvKeys returns the names a function's environment declares, references
// included, unresolved.
func (s *Serverless) EnvKeys(function string) map[string]string {
	env := map[string]string{}
	for _, kv := range s.Inputs.Environments {
		env[kv.Key] = kv.Value
	}
	for _, kv := range s.Inputs.Functions[function].Environments {
		env[kv.Key] = kv.Value
	}
	return env
}

// EnvRef reports whether v is exactly a Serverless Framework `${env:NAME}`
// reference and returns NAME.
func EnvRef(v string) (string, bool) {
	name, ok := strings.CutPrefix(strings.TrimSpace(v), "${env:")
	if !ok {
		return "", false
	}
	name, ok = strings.CutSuffix(name, "}")
	if !ok || name == "" || strings.ContainsAny(name, "${}: ") {
		return "", false
	}
	return name, true
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
