// Uses the COS store, which Lambda builds leave out.

//go:build !lambda.norpc

package cosemu_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/backupflow/backupflow/internal/emulator/cosemu"
)

// FuzzServeHTTP throws arbitrary hosts, paths, queries and Authorization
// headers at the emulator: it must never panic, and never answer 2xx to a
// request it did not see signed with its key.
func FuzzServeHTTP(f *testing.F) {
	emu := cosemu.New(cosemu.Options{SecretID: id, SecretKey: key, Now: func() time.Time { return t0 }})
	if err := emu.Put(bucket, "mssql/orders.bak", bak()); err != nil {
		f.Fatal(err)
	}
	f.Add("GET", host, "/mssql/orders.bak", "q-sign-algorithm=sha1&q-ak=AKIDEMU&q-sign-time=1;9999999999&q-key-time=1;9999999999&q-header-list=host&q-url-param-list=&q-signature=00", "", "")
	f.Add("PUT", "127.0.0.1:9000", "/"+bucket+"/k", "", "sign=q-sign-algorithm%3Dsha1", "true")
	f.Add("GET", host, "/", "", "prefix=a&max-keys=-1&marker=%zz", "")
	f.Add("HEAD", "x.cos.y.myqcloud.com:1", "//%2F..", "q-header-list=;", "q-ak=&q-signature", "")
	f.Fuzz(func(t *testing.T, method, host, path, auth, rawQuery, forbid string) {
		u := &url.URL{Scheme: "http", Host: "emu", Path: path, RawQuery: rawQuery}
		r := &http.Request{Method: method, URL: u, Host: host, Header: http.Header{}, Body: http.NoBody, RequestURI: u.RequestURI()}
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		if forbid != "" {
			r.Header.Set("x-cos-forbid-overwrite", forbid)
		}
		w := httptest.NewRecorder()
		emu.ServeHTTP(w, r)
		if w.Code < 300 {
			t.Errorf("%s %s%s?%s answered %d without a valid signature", method, host, path, rawQuery, w.Code)
		}
		if w.Header().Get("x-cos-request-id") == "" {
			t.Error("no x-cos-request-id")
		}
		if q := strings.Index(w.Body.String(), "q-signature"); q >= 0 {
			t.Errorf("error body echoes the signature: %s", w.Body.String())
		}
	})
}

// FuzzCheckURL: arbitrary URLs never panic and never pass.
func FuzzCheckURL(f *testing.F) {
	emu := cosemu.New(cosemu.Options{SecretID: id, SecretKey: key, Now: func() time.Time { return t0 }})
	f.Add("https://" + host + "/mssql/orders.bak?q-sign-algorithm=sha1&q-ak=AKIDEMU&q-sign-time=1%3B2&q-key-time=1%3B2&q-header-list=host&q-url-param-list=&q-signature=00")
	f.Add("http://[::1]:80/%zz?sign=")
	f.Fuzz(func(t *testing.T, raw string) {
		if err := emu.CheckURL(t.Context(), raw); err == nil {
			t.Errorf("CheckURL accepted %q", raw)
		} else if strings.Contains(raw, "q-signature=") && strings.Contains(err.Error(), raw) {
			t.Errorf("error quotes the URL: %v", err)
		}
	})
}
