package feishu_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/backupflow/backupflow/pkg/feishu"
	"github.com/backupflow/backupflow/pkg/secret"
)

// A tenant token is fetched once and reused; when a reply is refused for
// an invalid token (99991663), that reply fails and the next one fetches a
// new token.
func TestTokenReusedUntilRefused(t *testing.T) {
	var mu sync.Mutex
	issued, revoked := 0, map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.URL.Path == "/open-apis/auth/v3/tenant_access_token/internal":
			issued++
			_ = json.NewEncoder(w).Encode(map[string]any{"code": 0, "tenant_access_token": "t-" + strconv.Itoa(issued), "expire": 7200})
		case strings.HasSuffix(r.URL.Path, "/reply"):
			if tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "); revoked[tok] {
				w.WriteHeader(http.StatusUnauthorized)
				_ = json.NewEncoder(w).Encode(map[string]any{"code": 99991663, "msg": "invalid access token"})
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"code": 0, "msg": "success"})
		}
	}))
	defer srv.Close()
	c := feishu.New(feishu.Settings{AppID: "cli_1", AppSecret: secret.String("s"), API: srv.URL}, srv.Client(), nil)
	ctx := context.Background()
	for _, step := range []struct {
		revoke  string
		wantErr bool
		issued  int
	}{
		{"", false, 1}, {"", false, 1}, {"t-1", true, 1}, {"", false, 2}, {"", false, 2},
	} {
		mu.Lock()
		if step.revoke != "" {
			revoked[step.revoke] = true
		}
		mu.Unlock()
		err := c.Reply(ctx, "om_1", "hello")
		mu.Lock()
		n := issued
		mu.Unlock()
		if (err != nil) != step.wantErr || n != step.issued {
			t.Fatalf("after revoking %q: err %v, %d tokens issued; want error %v, %d", step.revoke, err, n, step.wantErr, step.issued)
		}
	}
}
