// Package config reads backupflow's settings from the environment with
// envconfig; every variable a function reads is declared here, once.
package config
