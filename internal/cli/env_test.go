package cli

import "os"

func getenvOS(k string) string { return os.Getenv(k) }
