// Package cossign signs and verifies COS XML API requests with the q-sign (HMAC-SHA1) scheme.
// The client's presigner tests and the emulator's verifier share this one implementation.
package cossign
