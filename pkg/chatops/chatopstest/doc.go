// Package chatopstest signs and encrypts chat-platform requests the way each
// platform does, with fixed test secrets, for tests, samples and the local demo.
package chatopstest
