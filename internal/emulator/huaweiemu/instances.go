package huaweiemu

import (
	"net/http"
	"strings"
	"time"

	"github.com/backupflow/backupflow/internal/emulator/fixture"
	"github.com/backupflow/backupflow/pkg/provider"
)

// instanceStatus maps a fixture status to Huawei's vocabulary. Fixture
// files may also use Huawei's own values ("REBOOTING", "STORAGE FULL").
func instanceStatus(in fixture.Instance) string {
	switch st := in.StatusOrDefault(); st {
	case "running":
		return "ACTIVE"
	case "creating":
		return "BUILD"
	case "isolated", "isolating":
		return "FROZEN"
	default:
		return strings.ToUpper(st)
	}
}

func instanceType(in fixture.Instance) string {
	if in.ReadOnly {
		return "Replica"
	}
	return "Ha"
}

type tagFilter struct{ key, value string }

// parseTags reads tags=k1=v1,k2=v2: every pair must match; an empty value
// matches any value. Keys and values may not contain the reserved characters.
func parseTags(v string) ([]tagFilter, *apiError) {
	if v == "" {
		return nil, nil
	}
	pairs := strings.Split(v, ",")
	if len(pairs) > 10 {
		return nil, errf(http.StatusBadRequest, codeParam, "At most 10 tags can be used for filtering.")
	}
	out := make([]tagFilter, 0, len(pairs))
	for _, p := range pairs {
		k, val, ok := strings.Cut(p, "=")
		if !ok || k == "" || len(k) > 127 || len(val) > 255 ||
			strings.ContainsAny(k, "+/?#&=,%") || strings.ContainsAny(val, "+/?#&=,%") {
			return nil, errf(http.StatusBadRequest, codeParam, "Invalid tags filter: want key=value pairs separated by commas.")
		}
		out = append(out, tagFilter{k, val})
	}
	return out, nil
}

func matchesTags(in fixture.Instance, f []tagFilter) bool {
	for _, t := range f {
		v, ok := in.Tags[t.key]
		if !ok || (t.value != "" && v != t.value) {
			return false
		}
	}
	return true
}

func matchesName(name, want string) bool {
	if rest, fuzzy := strings.CutPrefix(want, "*"); fuzzy {
		return strings.Contains(name, rest)
	}
	return name == want
}

type instanceView struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Status    string `json:"status"`
	Type      string `json:"type"`
	Datastore struct {
		Type    string `json:"type"`
		Version string `json:"version"`
	} `json:"datastore"`
	Region              string              `json:"region"`
	Tags                []map[string]string `json:"tags"`
	EnterpriseProjectID string              `json:"enterprise_project_id"`
	TimeZone            string              `json:"time_zone"`
	PrivateIPs          []string            `json:"private_ips"`
	PublicIPs           []string            `json:"public_ips"`
}

// listInstances is GET /v3/{project_id}/instances.
func (s *Server) listInstances(r *http.Request, _ []byte, _ time.Time) (any, *apiError) {
	q := r.URL.Query()
	tags, e := parseTags(q.Get("tags"))
	if e != nil {
		return nil, e
	}
	offset, limit, e := pageParams(q)
	if e != nil {
		return nil, e
	}
	typ := q.Get("type")
	switch typ {
	case "", "Single", "Ha", "Replica":
	default:
		return nil, errf(http.StatusBadRequest, codeParam, "Invalid type %q.", typ)
	}
	ds := q.Get("datastore_type")
	switch ds {
	case "", "MySQL", "PostgreSQL", "SQLServer", "MariaDB":
	default:
		return nil, errf(http.StatusBadRequest, codeParam, "Invalid datastore_type %q.", ds)
	}
	id, name := q.Get("id"), q.Get("name")
	var match []instanceView
	var ids []string
	if id != "" {
		ids = []string{id}
	}
	for _, in := range s.o.Fleet.Select(provider.HuaweiRDS, ids) {
		if (id != "" && in.ID != id) || (name != "" && !matchesName(in.Name, name)) ||
			(typ != "" && instanceType(in) != typ) || (ds != "" && engineOf(in) != ds) || !matchesTags(in, tags) {
			continue
		}
		v := instanceView{ID: in.ID, Name: in.Name, Status: instanceStatus(in), Type: instanceType(in),
			Region: in.RegionOrDefault(), Tags: sortedTags(in.Tags), EnterpriseProjectID: "0",
			TimeZone: "UTC+08:00", PrivateIPs: []string{}, PublicIPs: []string{}}
		v.Datastore.Type, v.Datastore.Version = engineOf(in), engineVersions[engineOf(in)]
		match = append(match, v)
	}
	total := len(match)
	page := []instanceView{}
	if offset < total {
		page = match[offset:min(total, offset+limit)]
	}
	return map[string]any{"instances": page, "total_count": total}, nil
}
