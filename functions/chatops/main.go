// Command chatops is the verified chat webhook: Slack, WeCom, DingTalk,
// Feishu and a generic HMAC hook. On SCF it is a web function (HTTP on
// :9000); on Lambda it sits behind a function URL.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/backupflow/backupflow/pkg/chatapp"
)

func main() {
	h, err := chatapp.Handler(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "chatops:", err)
		os.Exit(1)
	}
	if err := serve(h); err != nil {
		fmt.Fprintln(os.Stderr, "chatops:", err)
		os.Exit(1)
	}
}
