// Package huaweiemu emulates the Huawei Cloud RDS v3 backup and instance APIs behind
// SDK-HMAC-SHA256 signing, so the official Go SDK can be tested without a network.
package huaweiemu
