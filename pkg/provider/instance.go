package provider

import (
	"context"
	"fmt"
	"strings"
)

// Instance is a database found by tag discovery for the nightly run.
type Instance struct {
	Product    Product
	Region     string
	InstanceID string
	Name       string
	// Eligible says whether to back it up now; when false, Reason says why
	// (creating, isolated, read-only replica, ...) for the run's summary.
	Eligible bool
	Reason   string
	// Methods are the backup methods this kind of instance can take, the
	// one to use when none is configured first (cdb Basic edition: snapshot
	// only; MongoDB cloud disk: physical, snapshot; TDE: no physical). Empty
	// when the product has no method choice.
	Methods []string `json:",omitempty"`
	// Kind says why Methods is limited ("Basic edition", "cloud disk",
	// "transparent data encryption"), for error messages; empty otherwise.
	Kind string `json:",omitempty"`
}

// MethodError says whether method can be used on the instance; nil when it
// can (or when the product has no method choice). An empty method is the
// instance's default and always fits.
func (in Instance) MethodError(method string) error {
	if method == "" || len(in.Methods) == 0 {
		return nil
	}
	for _, m := range in.Methods {
		if m == method {
			return nil
		}
	}
	kind := in.Kind
	if kind == "" {
		kind = "this instance"
	}
	return fmt.Errorf("%s %s cannot take a %s backup (%s): use %s",
		in.Product, in.InstanceID, method, kind, strings.Join(in.Methods, " or "))
}

// Discoverer lists the instances of one product that carry a tag.
type Discoverer interface {
	Discover(ctx context.Context, tagKey, tagValue string) ([]Instance, error)
}

// Describer looks one instance up by id, whatever its tags, and classifies
// it as Discover does, so a one-off backup of an untagged instance is
// checked like a nightly one. found is false when the cloud lists no such
// instance.
type Describer interface {
	Describe(ctx context.Context, instanceID string) (in Instance, found bool, err error)
}
