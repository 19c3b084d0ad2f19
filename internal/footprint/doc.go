// Package footprint measures what each deployed function costs to carry and
// to start: stripped binary size per platform, cold start (process start to
// first invocation answered, over the SCF Go1 net/rpc protocol, the SCF
// web-function HTTP port, or a local fake of the Lambda Runtime API), warm
// invocation overhead with an event that makes no cloud call, and peak RSS
// (VmHWM). Every figure is taken side by side with cmd/hello, the minimal
// function on the same runtime code, in the same run, so ratios are fair.
//
// Weigh adds what each cloud SDK weighs (deps.go), offline: its modules'
// download from the module cache's zips beside the Huawei SDK's (issue 20's
// baseline, still required by interop/), its code and init time in
// create-backup, and the download a fresh clone needs for the CLI.
package footprint
