// Package provider is the one small contract every cloud database adapter meets:
// start a job, report its state, and find a job already started by its name.
package provider
