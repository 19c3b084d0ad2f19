package footprint

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/pkg/app"
)

func TestParseVmHWM(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    int64
		wantErr bool
	}{
		{"typical", "Name:\tx\nVmPeak:\t  9000 kB\nVmHWM:\t    6144 kB\nVmRSS:\t 6000 kB\n", 6144 * 1024, false},
		{"missing", "Name:\tx\nVmRSS:\t 6000 kB\n", 0, true},
		{"bad unit", "VmHWM:\t 12 MB\n", 0, true},
		{"bad number", "VmHWM:\t twelve kB\n", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseVmHWM(strings.NewReader(tc.in))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("parseVmHWM = %d, %v; want %d, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		in   []time.Duration
		want time.Duration
	}{
		{nil, 0},
		{[]time.Duration{3 * ms}, 3 * ms},
		{[]time.Duration{9 * ms, 1 * ms, 5 * ms}, 5 * ms},
		{[]time.Duration{4 * ms, 1 * ms, 2 * ms, 100 * ms}, 3 * ms},
	} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %s; want %s", tc.in, got, tc.want)
		}
	}
	if got := medianInt([]int64{5, 1, 3}); got != 3 {
		t.Errorf("medianInt = %d; want 3", got)
	}
}

func TestPeakRSS_ThisProcess(t *testing.T) {
	n, err := peakRSS(os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if n <= 0 {
		t.Errorf("peak RSS of the test process = %d; want > 0", n)
	}
}

func TestFakeRuntime_OneEventOneAnswer(t *testing.T) {
	rt := &fakeRuntime{events: make(chan []byte, 1), done: make(chan string, 1)}
	srv := httptest.NewServer(rt)
	defer srv.Close()
	rt.events <- []byte(`{"x":1}`)
	resp, err := http.Get(srv.URL + "/2018-06-01/runtime/invocation/next")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
	if string(body) != `{"x":1}` || id == "" || resp.Header.Get("Lambda-Runtime-Deadline-Ms") == "" {
		t.Fatalf("next = %q, id %q", body, id)
	}
	resp, err = http.Post(srv.URL+"/2018-06-01/runtime/invocation/"+id+"/response", "application/json", bytes.NewReader([]byte(`"ok"`)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := <-rt.done; got != "ok" {
		t.Errorf("done = %q; want ok", got)
	}
}

func TestLoadEvent(t *testing.T) {
	b, err := loadEvent(".", "")
	if err != nil || string(b) != "{}" {
		t.Errorf("empty event = %q, %v", b, err)
	}
	if _, err := loadEvent("../..", Functions[0].Events[SCF]); err != nil {
		t.Errorf("sample event of %s: %v", Functions[0].Name, err)
	}
}

func TestRatioAndMB(t *testing.T) {
	if ratio(3, 2) != "1.50×" || ratio(1, 0) != "-" {
		t.Errorf("ratio: %q %q", ratio(3, 2), ratio(1, 0))
	}
	if mb(3<<20) != "3.0 MB" {
		t.Errorf("mb = %q", mb(3<<20))
	}
}

// TestFunctionsAreTheTable: the benchmark measures every entry of the
// function table and nothing else, each from its deployed main, with
// events that exist.
func TestFunctionsAreTheTable(t *testing.T) {
	if len(Functions) != len(app.Functions) {
		t.Fatalf("measuring %d functions; the table has %d", len(Functions), len(app.Functions))
	}
	for i, f := range Functions {
		e := app.Functions[i]
		if f.Name != e.Name || f.Web != e.Web || f.Pkg != "./functions/"+e.Name {
			t.Errorf("measured %+v; table entry %s (web %v)", f, e.Name, e.Web)
		}
		if _, err := os.Stat(filepath.Join("../..", f.Pkg, "main.go")); err != nil {
			t.Errorf("%s: %v", f.Name, err)
		}
		for plat, ev := range f.Events {
			if !strings.HasPrefix(ev, "{") {
				if _, err := os.Stat(filepath.Join("../..", ev)); err != nil {
					t.Errorf("%s on %s: %v", f.Name, plat, err)
				}
			}
		}
	}
	for name := range events {
		if _, ok := app.Lookup(name); !ok {
			t.Errorf("events name %s, which is not in the function table", name)
		}
	}
}
