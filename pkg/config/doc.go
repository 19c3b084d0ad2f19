// Package config reads backupflow's settings from the environment; every
// variable a function reads is declared here (or, for the chat function, in
// a struct read by the same loader), once, and an empty value always means
// the same as an unset one.
package config
