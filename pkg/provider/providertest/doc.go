// Package providertest is the conformance suite every provider.Provider passes:
// one Run call drives a provider against an emulator through a Harness.
package providertest
