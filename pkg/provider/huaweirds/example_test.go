package huaweirds_test

import (
	"fmt"

	"github.com/backupflow/backupflow/pkg/provider/huaweirds"
)

func ExampleConfigFromEnv() {
	env := map[string]string{
		"HUAWEICLOUD_SDK_AK":         "AKEXAMPLE",
		"HUAWEICLOUD_SDK_SK":         "do-not-print-me",
		"HUAWEICLOUD_SDK_PROJECT_ID": "0483b6b16e954cb88930a360d2c4e663",
		"BACKUPFLOW_HUAWEI_ENDPOINT": "127.0.0.1:18081", // the local emulator
	}
	cfg, err := huaweirds.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.Region, cfg.Endpoint, cfg.SK)
	if _, err := huaweirds.New(cfg); err != nil {
		fmt.Println(err)
	}

	_, err = huaweirds.ConfigFromEnv(func(string) string { return "" })
	fmt.Println(err)
	// Output:
	// cn-north-4 127.0.0.1:18081 [redacted]
	// huaweirds: missing environment variables HUAWEICLOUD_SDK_AK, HUAWEICLOUD_SDK_SK, HUAWEICLOUD_SDK_PROJECT_ID
}
