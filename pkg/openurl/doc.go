// Package openurl is the one way backupflow opens a resource by URL. Each
// portable package (queue, ledger, objstore) holds one Registry; its
// drivers register an Opener under their scheme when imported, so a binary
// opens exactly the schemes of the drivers it links, and Schemes lists them
// all in one place.
//
// Every Opener gets the URL and an Env: the environment the process was
// configured from and the inputs that are not configuration (clock, HTTP
// client). A driver reads its own settings from Env.Getenv through
// config.ProcessFrom, so the portable packages name no cloud.
package openurl
