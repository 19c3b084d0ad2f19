package wecom_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/backupflow/backupflow/pkg/secret"
	"github.com/backupflow/backupflow/pkg/wecom"
)

// A token is fetched once and reused; when message/send answers that it
// expired (42001), that send fails and the next one fetches a new token.
func TestTokenReusedUntilRefused(t *testing.T) {
	var mu sync.Mutex
	issued, expired := 0, map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch r.URL.Path {
		case "/cgi-bin/gettoken":
			issued++
			_ = json.NewEncoder(w).Encode(map[string]any{"errcode": 0, "access_token": "tok-" + strconv.Itoa(issued), "expires_in": 7200})
		case "/cgi-bin/message/send":
			if tok := r.URL.Query().Get("access_token"); expired[tok] {
				_ = json.NewEncoder(w).Encode(map[string]any{"errcode": 42001, "errmsg": "access_token expired"})
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"errcode": 0, "errmsg": "ok"})
		}
	}))
	defer srv.Close()
	c := wecom.New(wecom.Settings{CorpID: "ww1", Secret: secret.String("s"), AgentID: "1000002", API: srv.URL}, srv.Client(), nil)
	ctx := context.Background()
	for _, step := range []struct {
		expire  string // the server expires this token first
		wantErr bool
		issued  int
	}{
		{"", false, 1}, {"", false, 1}, {"tok-1", true, 1}, {"", false, 2}, {"", false, 2},
	} {
		mu.Lock()
		if step.expire != "" {
			expired[step.expire] = true
		}
		mu.Unlock()
		err := c.SendText(ctx, "zhangsan", "hello")
		mu.Lock()
		n := issued
		mu.Unlock()
		if (err != nil) != step.wantErr || n != step.issued {
			t.Fatalf("after expiring %q: err %v, %d tokens issued; want error %v, %d", step.expire, err, n, step.wantErr, step.issued)
		}
	}
}
