package invoke_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/invoke"
)

func TestMeta(t *testing.T) {
	ctx := context.Background()
	if _, ok := invoke.MetaFrom(ctx); ok {
		t.Fatal("MetaFrom(background) ok = true; want false")
	}
	want := invoke.Meta{Platform: invoke.PlatformSCF, RequestID: "r-1", FunctionName: "f", Region: "ap-guangzhou", Deadline: time.Unix(100, 0), MemoryMB: 128}
	got, ok := invoke.MetaFrom(invoke.WithMeta(ctx, want))
	if !ok || got != want {
		t.Fatalf("MetaFrom(WithMeta(m)) = %+v, %v; want %+v, true", got, ok, want)
	}
}

func TestJSON(t *testing.T) {
	type in struct{ Name string }
	type out struct{ Greeting string }
	errBoom := errors.New("boom")
	h := invoke.JSON(func(_ context.Context, i in) (out, error) {
		if i.Name == "fail" {
			return out{}, errBoom
		}
		return out{Greeting: "hi " + i.Name}, nil
	})
	tests := []struct {
		name    string
		payload string
		want    string
		wantErr error
	}{
		{name: "ok", payload: `{"Name":"ann"}`, want: `{"Greeting":"hi ann"}`},
		{name: "handler error", payload: `{"Name":"fail"}`, wantErr: errBoom},
		{name: "bad json", payload: `{`, wantErr: errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := h(context.Background(), []byte(tt.payload))
			switch {
			case tt.wantErr == errAny && err != nil:
			case tt.wantErr != nil && errors.Is(err, tt.wantErr):
			case tt.wantErr == nil && err == nil && string(got) == tt.want:
			default:
				t.Errorf("h(%s) = %s, %v; want %s, %v", tt.payload, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

var errAny = errors.New("any error")
