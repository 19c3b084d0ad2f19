package invoke

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Handler is a platform-neutral function body: it receives the trigger's raw
// JSON payload and returns the raw JSON result. The platform runtimes
// (scfinvoke, lambdainvoke) call it once per invocation, one invocation at a
// time per process; a returned error is reported to the platform as a
// function error, which makes asynchronous triggers retry.
type Handler func(ctx context.Context, payload []byte) ([]byte, error)

// Platform names used in Meta.Platform.
const (
	PlatformSCF   = "scf"
	PlatformAWS   = "aws"
	PlatformLocal = "local"
)

// Meta describes the current invocation. Fields the platform did not send
// are left zero: Deadline is zero when the invocation has no deadline.
type Meta struct {
	Platform     string // "scf", "aws" or "local"
	RequestID    string
	FunctionName string
	Region       string // long form, e.g. "ap-guangzhou" or "us-east-1"
	Deadline     time.Time
	MemoryMB     int
}

type metaKey struct{}

// WithMeta returns a copy of ctx that carries m.
func WithMeta(ctx context.Context, m Meta) context.Context {
	return context.WithValue(ctx, metaKey{}, m)
}

// MetaFrom returns the invocation metadata stored in ctx by WithMeta.
func MetaFrom(ctx context.Context) (Meta, bool) {
	m, ok := ctx.Value(metaKey{}).(Meta)
	return m, ok
}

// JSON adapts a typed function to a Handler: the payload is decoded into In
// and the result encoded from Out with encoding/json. A payload that does not
// decode is returned as an error without calling f.
func JSON[In, Out any](f func(context.Context, In) (Out, error)) Handler {
	return func(ctx context.Context, payload []byte) ([]byte, error) {
		var in In
		if err := json.Unmarshal(payload, &in); err != nil {
			return nil, fmt.Errorf("invoke: decode payload: %w", err)
		}
		out, err := f(ctx, in)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(out)
		if err != nil {
			return nil, fmt.Errorf("invoke: encode result: %w", err)
		}
		return b, nil
	}
}
