package huaweirds

import (
	"context"
	"fmt"
	"strings"

	rds "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/rds/v3"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/rds/v3/model"

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
	limit := int32(pageSize)
	var out []provider.Instance
	for page, offset := 0, int32(0); page < maxPages; page++ {
		off := offset
		req := &model.ListInstancesRequest{Tags: &filter, Offset: &off, Limit: &limit}
		resp, err := p.call(ctx, actionListInstances, func(c *rds.RdsClient, h map[string]string) (any, error) {
			return c.ListInstancesInvoker(req).AddHeaders(h).Invoke()
		})
		if err != nil {
			return nil, err
		}
		r, _ := resp.(*model.ListInstancesResponse)
		if r == nil || r.Instances == nil || len(*r.Instances) == 0 {
			return out, nil
		}
		for _, in := range *r.Instances {
			// The filter is the cloud's; checking again costs nothing and
			// keeps an untagged instance out if the filter is ever ignored.
			if !hasTag(in.Tags, tagKey, tagValue) {
				continue
			}
			out = append(out, p.instance(in))
		}
		offset += int32(len(*r.Instances))
		if r.TotalCount == nil || offset >= *r.TotalCount {
			return out, nil
		}
	}
	return nil, fmt.Errorf("huaweirds: discover %s: more than %d pages of instances", filter, maxPages)
}

// Describe is ListInstances filtered by the one id.
func (p *Provider) Describe(ctx context.Context, id string) (provider.Instance, bool, error) {
	limit := int32(1)
	req := &model.ListInstancesRequest{Id: &id, Limit: &limit}
	resp, err := p.call(ctx, actionListInstances, func(c *rds.RdsClient, h map[string]string) (any, error) {
		return c.ListInstancesInvoker(req).AddHeaders(h).Invoke()
	})
	if err != nil {
		return provider.Instance{}, false, fmt.Errorf("huaweirds: describe %s: %w", id, err)
	}
	r, _ := resp.(*model.ListInstancesResponse)
	if r == nil || r.Instances == nil {
		return provider.Instance{}, false, nil
	}
	for _, in := range *r.Instances {
		if in.Id == id {
			return p.instance(in), true, nil
		}
	}
	return provider.Instance{}, false, nil
}

func hasTag(tags []model.TagResponse, key, value string) bool {
	for _, t := range tags {
		if t.Key == key && (value == "" || t.Value == value) {
			return true
		}
	}
	return false
}

func (p *Provider) instance(in model.InstanceResponse) provider.Instance {
	out := provider.Instance{Product: provider.HuaweiRDS, Region: in.Region, InstanceID: in.Id, Name: in.Name}
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
