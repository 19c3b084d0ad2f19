package local

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuf is a goroutine-safe output buffer.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func testOptions(t *testing.T, out *syncBuf) Options {
	return Options{Serverless: "../../serverless.yml", Dir: t.TempDir(), ChatListen: "127.0.0.1:0", Stdout: out,
		View: "lines", JobDuration: time.Second, Tick: 500 * time.Millisecond, Scan: 100 * time.Millisecond}
}

func TestDemo(t *testing.T) {
	out := &syncBuf{}
	v := Demo(context.Background(), testOptions(t, out), 60*time.Second)
	v.Print(out)
	if !v.OK() {
		t.Fatalf("demo failed:\n%s", out)
	}
	if !strings.Contains(out.String(), "DEMO PASSED") {
		t.Errorf("no verdict line:\n%s", out)
	}
	if len(v.Expect) != 11 {
		t.Errorf("%d expectations; want 9 nightly (3 cdb incl. Basic edition, 3 sqlserver incl. single-database files, 3 mongodb incl. cloud disk and TDE), 1 import, 1 chat", len(v.Expect))
	}
	t.Log(out.String())
}
