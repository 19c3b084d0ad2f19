package cmqqueue

import "testing"

func FuzzDecodeResponse(f *testing.F) {
	for _, s := range []string{
		`{"code":0,"message":"","requestId":"14534664555","msgId":"123345346"}`,
		`{"code":7000,"message":"(10200)no message","requestId":"39410804591689893","clientRequestId":0}`,
		`{"code":"0","message":"","requestId":1,"msgInfoList":[{"msgBody":"a","msgId":"1","receiptHandle":"2","enqueueTime":1462351990,"firstDequeueTime":1462352990,"nextVisibleTime":1462352999,"dequeueCount":2}]}`,
		`{"code":6010,"message":"(10150)delete message partially failed","errorList":[{"code":4430,"message":"invalid receiptHandle","receiptHandle":"x"}]}`,
		`{"code":0,"msgInfoList":[{"dequeueCount":"3","enqueueTime":1.7e9}]}`,
		`[]`, `null`, `{"code":1.5}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var out batchReceiveResponse
		env, err := decodeResponse(body, &out)
		if err != nil {
			return
		}
		if env.Code == 0 {
			for _, m := range out.MsgInfoList {
				_ = m.MsgBody
			}
		}
		_ = module(env.Message)
	})
}
