package app_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/backupflow/backupflow/pkg/app"
	"github.com/backupflow/backupflow/pkg/config"
)

// TestUnusableValuesAreNotEchoed: every variable, set to values that cannot
// be used, fails loading or wiring with an error that quotes no part of the
// value (a value in the wrong variable may be a credential). The names of
// queues and buckets are the exception the drivers make (they say which
// resource failed), so the marker sits elsewhere in the URLs below.
func TestUnusableValuesAreNotEchoed(t *testing.T) {
	const marker = "MARKERVALUE"
	values := []string{marker, "x:" + marker, "cmq://q?region=" + marker + "&x=%zz", "cos://bkt-1250000000?region=" + marker, "cos://" + marker + "@bkt/p", "[" + marker,
		"a=" + marker + ",b", "http://" + marker + ":99999/x", "::" + marker}
	typ := reflect.TypeFor[config.Config]()
	n := 0
	for i := range typ.NumField() {
		key := typ.Field(i).Tag.Get("env")
		if key == "" {
			continue
		}
		for _, val := range values {
			env := map[string]string{"TENCENTCLOUD_SECRET_ID": "AKIDtest", "TENCENTCLOUD_SECRET_KEY": "k",
				"HUAWEICLOUD_SDK_AK": "a", "HUAWEICLOUD_SDK_SK": "s", "HUAWEICLOUD_SDK_PROJECT_ID": "p",
				// Nothing listens there: no probe reaches a real cloud.
				"BACKUPFLOW_COS_ENDPOINT": "127.0.0.1:9", "BACKUPFLOW_TENCENT_ENDPOINT": "127.0.0.1:9",
				"BACKUPFLOW_HUAWEI_ENDPOINT": "127.0.0.1:9", "BACKUPFLOW_AWS_ENDPOINT": "http://127.0.0.1:9"}
			env[key] = val
			get := func(k string) string { return env[k] }
			cfg, err := config.LoadFrom(get)
			if err == nil {
				_, err = app.Open(context.Background(), cfg, app.Options{Getenv: get})
			}
			if err != nil {
				n++
				if strings.Contains(err.Error(), marker) {
					t.Errorf("%s=%s: the error quotes the value: %v", key, val, err)
				}
			}
		}
	}
	if n < 20 {
		t.Fatalf("only %d unusable values were refused; the probe values no longer reach the checks", n)
	}
}
