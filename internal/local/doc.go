// Package local runs the whole system in one process: the cloud emulator and
// every function of serverless.yml, wired and triggered as deployed.
package local
