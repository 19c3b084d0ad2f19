// Package cmqqueue is the TDMQ-for-CMQ queue driver (cmq://name): send through
// API 3.0 SendCmqMsg, receive and delete through the signed data-plane API.
package cmqqueue
