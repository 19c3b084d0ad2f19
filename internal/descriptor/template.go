package descriptor

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// SAM is the part of an AWS SAM template.yaml backupflow uses. Values keep
// CloudFormation's intrinsic functions as one-key maps in the long form
// ({"Ref": "X"}, {"Fn::GetAtt": "X.Arn"}, {"Fn::Sub": "..."}), whichever
// form the file uses, so callers see one shape.
type SAM struct {
	Transform  any
	Metadata   map[string]any
	Parameters map[string]map[string]any
	Globals    map[string]any
	Resources  map[string]Resource
	Outputs    map[string]any
	// Ext is Metadata.Backupflow: the variables deliberately left unset.
	Ext struct {
		Environment EnvCatalogue `yaml:"environment"`
	}
}

// Resource is one CloudFormation resource.
type Resource struct {
	Type       string
	Metadata   map[string]any
	Properties map[string]any
}

// LoadSAM reads and checks a template.yaml.
func LoadSAM(path string) (*SAM, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("template.yaml: %w", err)
	}
	return ParseSAM(b)
}

// ParseSAM parses template.yaml bytes.
func ParseSAM(b []byte) (*SAM, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf("template.yaml: %w", err)
	}
	if len(root.Content) == 0 {
		return nil, fmt.Errorf("template.yaml: empty")
	}
	v, err := plain(root.Content[0])
	if err != nil {
		return nil, fmt.Errorf("template.yaml: %w", err)
	}
	top, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("template.yaml: top level is not a mapping")
	}
	s := &SAM{Transform: top["Transform"], Metadata: asMap(top["Metadata"]), Globals: asMap(top["Globals"]),
		Outputs: asMap(top["Outputs"]), Parameters: map[string]map[string]any{}, Resources: map[string]Resource{}}
	for name, p := range asMap(top["Parameters"]) {
		s.Parameters[name] = asMap(p)
	}
	for name, r := range asMap(top["Resources"]) {
		m := asMap(r)
		typ, _ := m["Type"].(string)
		if typ == "" {
			return nil, fmt.Errorf("template.yaml: resource %s has no Type", name)
		}
		s.Resources[name] = Resource{Type: typ, Metadata: asMap(m["Metadata"]), Properties: asMap(m["Properties"])}
	}
	if len(s.Functions()) == 0 {
		return nil, fmt.Errorf("template.yaml: no AWS::Serverless::Function resources")
	}
	if ext, ok := s.Metadata["Backupflow"]; ok {
		// Round-trip through YAML to reuse the struct tags of EnvCatalogue.
		eb, err := yaml.Marshal(ext)
		if err == nil {
			err = yaml.Unmarshal(eb, &s.Ext)
		}
		if err != nil {
			return nil, fmt.Errorf("template.yaml: Metadata.Backupflow: %w", err)
		}
	}
	return s, nil
}

// Functions lists the logical ids of the AWS::Serverless::Function
// resources, sorted.
func (s *SAM) Functions() []string {
	var out []string
	for name, r := range s.Resources {
		if r.Type == "AWS::Serverless::Function" {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Prop returns a function's property, falling back to Globals.Function.
func (s *SAM) Prop(function, name string) any {
	if v, ok := s.Resources[function].Properties[name]; ok {
		return v
	}
	return asMap(s.Globals["Function"])[name]
}

// EnvKeys returns the variables a function's environment sets: Globals'
// overlaid with its own, values as written.
func (s *SAM) EnvKeys(function string) map[string]any {
	out := map[string]any{}
	for _, env := range []any{asMap(s.Globals["Function"])["Environment"], s.Resources[function].Properties["Environment"]} {
		for k, v := range asMap(asMap(env)["Variables"]) {
			out[k] = v
		}
	}
	return out
}

// Events returns a function's event sources by name.
func (s *SAM) Events(function string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for name, e := range asMap(s.Resources[function].Properties["Events"]) {
		out[name] = asMap(e)
	}
	return out
}

// Statement is one IAM policy statement, actions and resources as lists.
type Statement struct {
	Sid      string
	Effect   string
	Action   []string
	Resource []any
}

// Statements returns the inline policy statements of a function's
// Policies. SAM policy templates (e.g. SQSPollerPolicy) are refused: their
// action lists live outside this file, so no test could check them.
func (s *SAM) Statements(function string) ([]Statement, error) {
	var out []Statement
	pol := s.Resources[function].Properties["Policies"]
	list, ok := pol.([]any)
	if !ok && pol != nil {
		list = []any{pol}
	}
	for i, p := range list {
		doc, ok := p.(map[string]any)
		if !ok || doc["Statement"] == nil {
			return nil, fmt.Errorf("%s: Policies[%d] is not an inline policy document", function, i)
		}
		sts, _ := doc["Statement"].([]any)
		for j, st := range sts {
			m := asMap(st)
			one := Statement{Resource: asList(m["Resource"])}
			one.Sid, _ = m["Sid"].(string)
			one.Effect, _ = m["Effect"].(string)
			for _, a := range asList(m["Action"]) {
				as, ok := a.(string)
				if !ok {
					return nil, fmt.Errorf("%s: Policies[%d].Statement[%d]: action %v is not a string", function, i, j, a)
				}
				one.Action = append(one.Action, as)
			}
			out = append(out, one)
		}
	}
	return out, nil
}

// cfnTags maps CloudFormation's short-form YAML tags to their long names.
var cfnTags = map[string]string{
	"!Ref": "Ref", "!Condition": "Condition", "!Base64": "Fn::Base64", "!Cidr": "Fn::Cidr",
	"!FindInMap": "Fn::FindInMap", "!GetAtt": "Fn::GetAtt", "!GetAZs": "Fn::GetAZs",
	"!ImportValue": "Fn::ImportValue", "!Join": "Fn::Join", "!Select": "Fn::Select",
	"!Split": "Fn::Split", "!Sub": "Fn::Sub", "!Transform": "Fn::Transform", "!And": "Fn::And",
	"!Equals": "Fn::Equals", "!If": "Fn::If", "!Not": "Fn::Not", "!Or": "Fn::Or",
}

// plain converts a YAML node to maps, slices and scalars, turning short-form
// intrinsic tags into one-key maps.
func plain(n *yaml.Node) (any, error) {
	var v any
	switch n.Kind {
	case yaml.AliasNode:
		return plain(n.Alias)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			val, err := plain(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = val
		}
		v = m
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			val, err := plain(c)
			if err != nil {
				return nil, err
			}
			l = append(l, val)
		}
		v = l
	case yaml.ScalarNode:
		if _, intrinsic := cfnTags[n.Tag]; intrinsic {
			v = n.Value
		} else if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
	default:
		return nil, fmt.Errorf("line %d: unexpected YAML node", n.Line)
	}
	if long, ok := cfnTags[n.Tag]; ok {
		return map[string]any{long: v}, nil
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		return nil, fmt.Errorf("line %d: unknown tag %s", n.Line, n.Tag)
	}
	return v, nil
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func asList(v any) []any {
	switch l := v.(type) {
	case nil:
		return nil
	case []any:
		return l
	default:
		return []any{l}
	}
}
