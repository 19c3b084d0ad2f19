package huaweirds

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/backupflow/backupflow/pkg/apierr"
)

// The RDS v3 calls this provider makes (facts/database-apis.md), with only
// the fields it sends or reads. interop/ decodes these bodies and the
// emulator's answers with the official SDK's models.

type backupDatabase struct {
	Name string `json:"name"`
}

// createBody is POST /v3/{project_id}/backups.
type createBody struct {
	InstanceID  string           `json:"instance_id"`
	Name        string           `json:"name"`
	Description string           `json:"description,omitempty"`
	Databases   []backupDatabase `json:"databases,omitempty"`
	// Individually is sent only when true: false is the cloud's default.
	Individually bool `json:"backup_database_individually,omitempty"`
}

type createdBackup struct {
	ID          string           `json:"id"`
	InstanceID  string           `json:"instance_id"`
	Name        string           `json:"name"`
	Description string           `json:"description"`
	Databases   []backupDatabase `json:"databases"`
	BeginTime   string           `json:"begin_time"`
	Status      string           `json:"status"`
	Type        string           `json:"type"`
}

type createAnswer struct {
	Backup *createdBackup `json:"backup"`
}

// listedBackup is one entry of GET /v3/{project_id}/backups.
type listedBackup struct {
	ID         string `json:"id"`
	InstanceID string `json:"instance_id"`
	Name       string `json:"name"`
	BeginTime  string `json:"begin_time"`
	Status     string `json:"status"`
	Type       string `json:"type"`
	// Size is in KB.
	Size int64 `json:"size"`
}

type backupsAnswer struct {
	Backups    []listedBackup `json:"backups"`
	TotalCount *int32         `json:"total_count"`
}

type tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// listedInstance is one entry of GET /v3/{project_id}/instances.
type listedInstance struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Status string `json:"status"`
	Type   string `json:"type"`
	Region string `json:"region"`
	Tags   []tag  `json:"tags"`
}

type instancesAnswer struct {
	Instances  []listedInstance `json:"instances"`
	TotalCount *int32           `json:"total_count"`
}

// errorBody is the API's error answer; the gateway uses the same fields,
// and some services answer code/message instead.
type errorBody struct {
	ErrorCode string `json:"error_code"`
	ErrorMsg  string `json:"error_msg"`
	Code      string `json:"code"`
	Message   string `json:"message"`
}

// maxAnswer bounds what one answer may hold: a full page of 100 backups or
// instances is well under a megabyte.
const maxAnswer = 8 << 20

// do sends one signed request under ctx and decodes a 2xx answer into out
// (nil: body ignored). Errors: *apierr.Error for an HTTP error answer;
// transport failures keep their type (apierr.KindOf reads them as
// ambiguous) and only gain context.
func (p *Provider) do(ctx context.Context, action, method, path string, q url.Values, in, out any) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("huaweirds %s: %w", action, err)
	}
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("huaweirds %s: encode: %w", action, err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	u := p.endpoint + "/v3/" + p.project + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("huaweirds %s: %w", action, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("X-Project-Id", p.project)
	sign(req, body, p.ak, p.sk.Reveal(), p.now())
	resp, err := p.hc.Do(req)
	if err != nil {
		return fmt.Errorf("huaweirds %s: %w", action, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("huaweirds %s: read answer: %w", action, err)
	}
	if resp.StatusCode >= 300 {
		return answerError(action, resp, raw)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		// A 2xx the caller cannot read may still have done its work.
		e := apierr.New(apierr.Huawei, "rds", action, "", "undecodable answer: "+err.Error(), resp.Header.Get("X-Request-Id"), resp.StatusCode, err)
		e.Kind = apierr.RetryAfterLookup
		return e
	}
	return nil
}

// answerError classifies an error answer by code and HTTP status. An answer
// that is not the API's JSON (a gateway page) keeps its first 200 bytes.
func answerError(action string, resp *http.Response, raw []byte) error {
	var eb errorBody
	code, msg := "", ""
	if json.Unmarshal(raw, &eb) == nil {
		switch {
		case eb.ErrorCode != "" && eb.ErrorMsg != "":
			code, msg = eb.ErrorCode, eb.ErrorMsg
		case eb.Code != "" && eb.Message != "":
			code, msg = eb.Code, eb.Message
		}
	}
	if code == "" {
		msg = string(raw)
		if len(msg) > 200 {
			msg = msg[:200] + "..."
		}
	}
	cause := fmt.Errorf("HTTP %d %s", resp.StatusCode, code)
	e := apierr.New(apierr.Huawei, "rds", action, code, msg, resp.Header.Get("X-Request-Id"), resp.StatusCode, cause)
	e.Kind = apierr.ClassifyHTTP(apierr.Huawei, code, resp.StatusCode)
	return e
}

func pageQuery(offset, limit int32) url.Values {
	return url.Values{"offset": {strconv.Itoa(int(offset))}, "limit": {strconv.Itoa(int(limit))}}
}
