package invoke_test

import (
	"context"
	"fmt"

	"github.com/backupflow/backupflow/pkg/invoke"
)

func ExampleJSON() {
	type greet struct{ Name string }
	h := invoke.JSON(func(ctx context.Context, g greet) (map[string]string, error) {
		m, _ := invoke.MetaFrom(ctx)
		return map[string]string{"hello": g.Name, "platform": m.Platform}, nil
	})
	ctx := invoke.WithMeta(context.Background(), invoke.Meta{Platform: invoke.PlatformLocal})
	out, err := h(ctx, []byte(`{"Name":"world"}`))
	fmt.Println(string(out), err)
	// Output: {"hello":"world","platform":"local"} <nil>
}
