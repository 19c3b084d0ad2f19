package huaweirds

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/backupflow/backupflow/pkg/apierr"
	"github.com/backupflow/backupflow/pkg/provider"
)

// tagReserved are the characters ListInstances' tags filter cannot carry.
const tagReserved = "+/?#&=,%"

// Discover lists the instances tagged tagKey=tagValue (ListInstances with
// the tags filter, paged) and says which can be backed up now
// (facts/cos-and-discovery.md §B.6).
func (p *Provider) Discover(ctx context.Context, tagKey, tagValue string) ([]provider.Instance, error) {
	if tagKey == "" || len(tagKey) > 127 || len(tagValue) > 255 ||
		strings.ContainsAny(tagKey, tagReserved) || strings.ContainsAny(tagValue, tagReserved) {
		return nil, apierr.Invalid("huaweirds: tag %q=%q: key 1-127 and value up to 255 characters, none of %s", tagKey, tagValue, tagReserved)
	}
	filter := tagKey + "=" + tagValue
	var out []provider.Instance
	for page, offset := 0, int32(0); page < maxPages; page++ {
		q := pageQuery(offset, pageSize)
		q.Set("tags", filter)
		var r instancesAnswer
		// A page is a read: one transient fault among the night's calls
		// must not end the fan-out (apierr.RetryRead).
		err := apierr.RetryRead(ctx, p.sleep, func() error {
			return p.do(ctx, actionListInstances, http.MethodGet, "/instances", q, nil, &r)
		})
		if err != nil {
			return nil, err
		}
		if len(r.Instances) == 0 {
			return out, nil
		}
		for _, in := range r.Instances {
			// The filter is the cloud's; checking again costs nothing and
			// keeps an untagged instance out if the filter is ever ignored.
			if !hasTag(in.Tags, tagKey, tagValue) {
				continue
			}
			out = append(out, p.instance(in))
		}
		offset += int32(len(r.Instances))
		if r.TotalCount == nil || offset >= *r.TotalCount {
			return out, nil
		}
	}
	return nil, fmt.Errorf("huaweirds: discover %s: more than %d pages of instances", filter, maxPages)
}

// Describe is ListInstances filtered by the one id.
func (p *Provider) Describe(ctx context.Context, id string) (provider.Instance, bool, error) {
	var r instancesAnswer
	q := url.Values{"id": {id}, "limit": {"1"}}
	if err := p.do(ctx, actionListInstances, http.MethodGet, "/instances", q, nil, &r); err != nil {
		return provider.Instance{}, false, fmt.Errorf("huaweirds: describe %s: %w", id, err)
	}
	for _, in := range r.Instances {
		if in.ID == id {
			return p.instance(in), true, nil
		}
	}
	return provider.Instance{}, false, nil
}

func hasTag(tags []tag, key, value string) bool {
	for _, t := range tags {
		if t.Key == key && (value == "" || t.Value == value) {
			return true
		}
	}
	return false
}

func (p *Provider) instance(in listedInstance) provider.Instance {
	out := provider.Instance{Product: provider.HuaweiRDS, Region: in.Region, InstanceID: in.ID, Name: in.Name}
	if out.Region == "" {
		out.Region = p.region
	}
	out.Eligible, out.Reason = eligible(in.Type, in.Status)
	return out
}

// eligible classifies an instance: ACTIVE primaries are backed up now;
// replicas never (manual backups are refused); BUILD, FAILED and FROZEN are
// skipped; any other status is a passing operation, to retry later.
func eligible(typ, status string) (bool, string) {
	if strings.EqualFold(typ, "Replica") {
		return false, "read replica: manual backups are not supported"
	}
	switch status {
	case "ACTIVE":
		return true, ""
	case "BUILD":
		return false, "instance is being created"
	case "FAILED":
		return false, "instance is in the FAILED state"
	case "FROZEN":
		return false, "instance is frozen"
	case "":
		return false, "instance status unknown"
	}
	return false, "instance is " + status + "; try again later"
}
