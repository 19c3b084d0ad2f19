package cmqqueue

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"sync"
)

// flexInt decodes a JSON number or a numeric string (one old CMQ doc page
// shows "code":"0"); an empty string is 0.
type flexInt int64

func (n *flexInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*n = 0
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s == "" {
			*n = 0
			return nil
		}
		b = []byte(s)
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		// Some fields may come as floats (e.g. 1.7e9); accept whole values.
		f, ferr := strconv.ParseFloat(string(b), 64)
		if ferr != nil || f != float64(int64(f)) {
			return fmt.Errorf("not an integer: %.20q", b)
		}
		v = int64(f)
	}
	*n = flexInt(v)
	return nil
}

// envelope is the common part of every data-plane response (facts §9.4).
type envelope struct {
	Code      flexInt `json:"code"`
	Message   string  `json:"message"`
	RequestID string  `json:"requestId"`
}

type msgInfo struct {
	MsgBody          string  `json:"msgBody"`
	MsgID            string  `json:"msgId"`
	ReceiptHandle    string  `json:"receiptHandle"`
	EnqueueTime      flexInt `json:"enqueueTime"`
	FirstDequeueTime flexInt `json:"firstDequeueTime"`
	NextVisibleTime  flexInt `json:"nextVisibleTime"`
	DequeueCount     flexInt `json:"dequeueCount"`
}

type sendResponse struct {
	MsgID string `json:"msgId"`
}

type batchReceiveResponse struct {
	MsgInfoList []msgInfo `json:"msgInfoList"`
}

// decodeResponse parses a data-plane response body: the envelope always, and
// the action's fields into out (may be nil) when code is 0.
func decodeResponse(body []byte, out any) (envelope, error) {
	var raw struct {
		Code      flexInt         `json:"code"`
		Message   string          `json:"message"`
		RequestID json.RawMessage `json:"requestId"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return envelope{}, fmt.Errorf("decode response: %w", err)
	}
	env := envelope{Code: raw.Code, Message: raw.Message}
	if len(raw.RequestID) > 0 {
		var s string
		if json.Unmarshal(raw.RequestID, &s) == nil {
			env.RequestID = s
		} else {
			env.RequestID = string(bytes.TrimSpace(raw.RequestID))
		}
	}
	if env.Code == 0 && out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return env, fmt.Errorf("decode response fields: %w", err)
		}
	}
	return env, nil
}

var moduleRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\((\d+)\)`) })

// module is the module number in a message's "(NNNNN)" prefix, 0 if none.
func module(message string) int {
	m := moduleRE().FindStringSubmatch(message)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}
