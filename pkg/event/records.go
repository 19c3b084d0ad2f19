package event

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// cosRegions maps the short legacy region codes of COS trigger events to
// the long form the APIs use.
var cosRegions = map[string]string{
	"bj": "ap-beijing", "sh": "ap-shanghai", "gz": "ap-guangzhou", "cd": "ap-chengdu",
	"cq": "ap-chongqing", "nj": "ap-nanjing", "tj": "ap-beijing-1", "hk": "ap-hongkong",
	"sg": "ap-singapore", "sgp": "ap-singapore", "kr": "ap-seoul", "jp": "ap-tokyo",
	"th": "ap-bangkok", "in": "ap-mumbai", "jkt": "ap-jakarta", "de": "eu-frankfurt",
	"ger": "eu-frankfurt", "usw": "na-siliconvalley", "use": "na-ashburn", "ca": "na-toronto",
	"sao": "sa-saopaulo", "szjr": "ap-shenzhen-fsi", "shjr": "ap-shanghai-fsi", "bjjr": "ap-beijing-fsi",
}

// longRegion returns the long form of a COS event region. A value already in
// long form, or an unknown code, is returned unchanged: a wrong guess would
// be worse than the raw value.
func longRegion(r string) string {
	if long, ok := cosRegions[strings.ToLower(r)]; ok {
		return long
	}
	return r
}

const cosCreatedPrefix = "cos:ObjectCreated:"

func decodeCOS(raw json.RawMessage) objectResult {
	var rec struct {
		COS struct {
			Bucket struct {
				Name   string     `json:"name"`
				AppID  flexString `json:"appid"`
				Region string     `json:"region"`
			} `json:"cosBucket"`
			Object struct {
				Key  string            `json:"key"`
				Size flexInt           `json:"size"`
				Meta map[string]string `json:"meta"`
				VID  string            `json:"vid"`
			} `json:"cosObject"`
		} `json:"cos"`
		Event struct {
			Name  string     `json:"eventName"`
			Time  flexInt    `json:"eventTime"`
			ReqID flexString `json:"reqid"`
		} `json:"event"`
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		return objectResult{err: fmt.Errorf("%w: cos record: %v", ErrMalformed, err)}
	}
	c, e := rec.COS, rec.Event
	if !strings.HasPrefix(e.Name, cosCreatedPrefix) {
		return objectResult{skip: fmt.Sprintf("cos event %q is not an object creation", e.Name)}
	}
	appID := string(c.Bucket.AppID)
	if c.Bucket.Name == "" || c.Object.Key == "" {
		return objectResult{err: fmt.Errorf("%w: cos record without bucket name or key", ErrMalformed)}
	}
	key := cosKey(c.Object.Key, appID, c.Bucket.Name)
	if key == "" {
		return objectResult{err: fmt.Errorf("%w: cos record key %q names no object", ErrMalformed, c.Object.Key)}
	}
	bucket := c.Bucket.Name
	if appID != "" && !strings.HasSuffix(bucket, "-"+appID) {
		bucket += "-" + appID
	}
	o := Object{
		Platform:  "cos",
		Bucket:    bucket,
		AppID:     appID,
		Region:    longRegion(c.Bucket.Region),
		Key:       key,
		ETag:      strings.Trim(metaValue(c.Object.Meta, "ETag"), `"`),
		VersionID: c.Object.VID,
		EventName: e.Name,
		Size:      int64(c.Object.Size),
		RequestID: string(e.ReqID),
	}
	if o.RequestID == "" {
		o.RequestID = metaValue(c.Object.Meta, "x-cos-request-id")
	}
	if e.Time != 0 {
		o.Time = time.Unix(int64(e.Time), 0).UTC()
	}
	return objectResult{obj: o}
}

// cosKey turns the event's "/<appid>/<bucket>/<key>" into the object key.
// When the prefix is not the expected one, the first two segments are
// dropped all the same, as every documented sample has them.
func cosKey(raw, appID, name string) string {
	key := raw
	if p := "/" + appID + "/" + name + "/"; appID != "" && strings.HasPrefix(raw, p) {
		key = raw[len(p):]
	} else if strings.HasPrefix(raw, "/") {
		parts := strings.SplitN(raw[1:], "/", 3)
		if len(parts) == 3 {
			key = parts[2]
		} else {
			key = strings.TrimPrefix(raw, "/")
		}
	}
	// Percent-encoding of keys is undocumented: decode when it parses, keep
	// the text as delivered when it does not (a key may contain a bare '%').
	if strings.Contains(key, "%") {
		if dec, err := url.PathUnescape(key); err == nil {
			key = dec
		}
	}
	return key
}

// metaValue looks a COS meta header up case-insensitively.
func metaValue(meta map[string]string, name string) string {
	for k, v := range meta {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

func decodeCMQ(raw json.RawMessage) Message {
	m := Message{Platform: "cmq"}
	var rec struct {
		MsgID   flexString `json:"msgId"`
		MsgBody *string    `json:"msgBody"`
		MsgTag  flexTags   `json:"msgTag"`
	}
	// The ID first, alone, so that it survives a bad field elsewhere.
	var id struct {
		MsgID flexString `json:"msgId"`
	}
	if json.Unmarshal(raw, &id) == nil {
		m.ID = string(id.MsgID)
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		m.Err = fmt.Errorf("%w: cmq record: %v", ErrMalformed, err)
		return m
	}
	switch {
	case m.ID == "":
		m.Err = fmt.Errorf("%w: cmq record without msgId", ErrMalformed)
	case rec.MsgBody == nil:
		m.Err = fmt.Errorf("%w: cmq record %s without msgBody", ErrMalformed, m.ID)
	default:
		m.Body = []byte(*rec.MsgBody)
		m.Tags = rec.MsgTag
	}
	return m
}

func decodeS3(raw json.RawMessage) objectResult {
	var rec struct {
		Region    string            `json:"awsRegion"`
		EventTime string            `json:"eventTime"`
		EventName string            `json:"eventName"`
		Response  map[string]string `json:"responseElements"`
		S3        struct {
			Bucket struct {
				Name string `json:"name"`
			} `json:"bucket"`
			Object struct {
				Key       string  `json:"key"`
				Size      flexInt `json:"size"`
				ETag      string  `json:"eTag"`
				VersionID string  `json:"versionId"`
			} `json:"object"`
		} `json:"s3"`
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		return objectResult{err: fmt.Errorf("%w: s3 record: %v", ErrMalformed, err)}
	}
	if !strings.HasPrefix(rec.EventName, "ObjectCreated:") {
		return objectResult{skip: fmt.Sprintf("s3 event %q is not an object creation", rec.EventName)}
	}
	o := rec.S3.Object
	if rec.S3.Bucket.Name == "" || o.Key == "" {
		return objectResult{err: fmt.Errorf("%w: s3 record without bucket name or key", ErrMalformed)}
	}
	// S3 keys are form-encoded: '+' is a space.
	key, err := url.QueryUnescape(o.Key)
	if err != nil {
		return objectResult{err: fmt.Errorf("%w: s3 record key %q: %v", ErrMalformed, o.Key, err)}
	}
	obj := Object{
		Platform:  "s3",
		Bucket:    rec.S3.Bucket.Name,
		Region:    rec.Region,
		Key:       key,
		ETag:      strings.Trim(o.ETag, `"`),
		VersionID: o.VersionID,
		EventName: rec.EventName,
		Size:      int64(o.Size),
		RequestID: rec.Response["x-amz-request-id"],
	}
	if rec.EventTime != "" {
		t, err := time.Parse(time.RFC3339, rec.EventTime)
		if err != nil {
			return objectResult{err: fmt.Errorf("%w: s3 record eventTime %q is not RFC 3339", ErrMalformed, rec.EventTime)}
		}
		obj.Time = t.UTC()
	}
	return objectResult{obj: obj}
}

func decodeSQS(r map[string]json.RawMessage) Message {
	m := Message{Platform: "sqs"}
	if json.Unmarshal(r["messageId"], &m.ID) != nil || m.ID == "" {
		m.ID = ""
		m.Err = fmt.Errorf("%w: sqs record without a string messageId", ErrMalformed)
		return m
	}
	var body string
	if err := json.Unmarshal(r["body"], &body); err != nil {
		m.Err = fmt.Errorf("%w: sqs record %s: body is not a string", ErrMalformed, m.ID)
		return m
	}
	m.Body = []byte(body)
	// The receive count only informs retry policy: a bad one is not worth
	// failing the message for, it reads as unknown.
	var attrs map[string]any
	if json.Unmarshal(r["attributes"], &attrs) == nil {
		if s, ok := attrs["ApproximateReceiveCount"].(string); ok {
			if n, err := strconv.Atoi(s); err == nil && n > 0 {
				m.Receives = n
			}
		}
	}
	return m
}
