package tencentemu

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/backupflow/backupflow/pkg/provider"
)

func tagActions() map[string]action {
	return map[string]action{
		"GetResources": {handle: (*Server).tagGetResources, params: []field{
			strs("ResourceList"),
			objs("TagFilters", field{Name: "TagKey", Kind: kString, Required: true}, strs("TagValue")),
			str("PaginationToken"), num("MaxResults"), num("Category"),
		}},
	}
}

// resourceName is an instance's six-segment name (cos-and-discovery B.4.3).
func (s *Server) resourceName(p provider.Product, id, region string) string {
	svc, prefix := "", ""
	switch p {
	case provider.MySQL:
		svc, prefix = "cdb", "instanceId"
	case provider.SQLServer:
		svc, prefix = "sqlserver", "instance"
	case provider.MongoDB:
		svc, prefix = "mongodb", "instance"
	}
	return fmt.Sprintf("qcs::%s:%s:uin/%s:%s/%s", svc, region, s.fleet.Uin, prefix, id)
}

func (s *Server) tagGetResources(c *call) (any, *apiError) {
	var req struct {
		ResourceList []string
		TagFilters   []struct {
			TagKey   string
			TagValue []string
		}
		PaginationToken string
		MaxResults      int64
	}
	if e := c.bind(&req); e != nil {
		return nil, e
	}
	if req.MaxResults == 0 {
		req.MaxResults = 50
	}
	if req.MaxResults < 0 || req.MaxResults > 200 {
		return nil, errf(codeInvalidParameter, "MaxResults must be 1-200.")
	}
	if len(req.TagFilters) > 6 || len(req.ResourceList) > 10 {
		return nil, errf(codeInvalidParameter, "At most 6 TagFilters and 10 ResourceList entries are allowed.")
	}
	offset := int64(0)
	if req.PaginationToken != "" {
		n, err := strconv.ParseInt(req.PaginationToken, 10, 64)
		if err != nil || n < 0 {
			return nil, errf(codeInvalidParameter, "The PaginationToken is invalid.")
		}
		offset = n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	type mapping struct {
		Resource string
		Tags     []struct{ TagKey, TagValue, Category string }
	}
	var all []mapping
	for _, in := range s.fleet.Instances {
		if in.Product == provider.HuaweiRDS {
			continue
		}
		name := s.resourceName(in.Product, in.ID, in.RegionOrDefault())
		if len(req.ResourceList) > 0 && !contains(req.ResourceList, name) {
			continue
		}
		ok := allMatch(req.TagFilters, func(f struct {
			TagKey   string
			TagValue []string
		}) bool {
			v, has := in.Tags[f.TagKey]
			return has && (len(f.TagValue) == 0 || contains(f.TagValue, v))
		})
		if !ok || len(in.Tags) == 0 {
			continue
		}
		m := mapping{Resource: name}
		for _, t := range tagsOf(in) {
			m.Tags = append(m.Tags, struct{ TagKey, TagValue, Category string }{t.TagKey, t.TagValue, "Custom"})
		}
		all = append(all, m)
	}
	sort.SliceStable(all, func(a, b int) bool { return strings.Compare(all[a].Resource, all[b].Resource) < 0 })
	limit := req.MaxResults
	if len(req.ResourceList) > 0 {
		limit = int64(len(all)) // MaxResults is ignored with a ResourceList
	}
	lo, hi := page(len(all), offset, limit)
	next := ""
	if hi < len(all) {
		next = strconv.Itoa(hi)
	}
	return struct {
		PaginationToken        string
		ResourceTagMappingList []mapping
	}{next, append([]mapping{}, all[lo:hi]...)}, nil
}
