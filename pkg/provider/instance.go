package provider

import "context"

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
}

// Discoverer lists the instances of one product that carry a tag.
type Discoverer interface {
	Discover(ctx context.Context, tagKey, tagValue string) ([]Instance, error)
}
