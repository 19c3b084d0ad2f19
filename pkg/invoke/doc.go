// Package invoke holds what every platform runtime shares: the raw JSON handler type
// and the per-invocation metadata (request id, deadline, region) carried in the context.
package invoke
