// Package descriptor reads the deployment descriptors (serverless.yml for
// Tencent SCF) so the local stack and the tests use the deployed wiring.
package descriptor
