package huaweiemu

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/backupflow/backupflow/internal/emulator/fixture"
	"github.com/backupflow/backupflow/pkg/provider"
)

// timeFormat is how the emulator writes times: UTC with a literal Z, as in
// the seed's "yyyy-mm-ddThh:mm:ssZ".
const timeFormat = "2006-01-02T15:04:05Z"

var backupName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{3,63}$`)

// createRequest is a decoded, validated CreateManualBackup body.
type createRequest struct {
	InstanceID    string
	Name          string
	Description   string
	Databases     []string
	Individually  bool
	hasIndividual bool
}

// decodeCreate parses and checks a CreateManualBackup body on its own,
// before any instance is looked at. Unknown fields are rejected so that an
// adapter typo fails here rather than being silently ignored.
func decodeCreate(body []byte) (createRequest, *apiError) {
	if len(bytes.TrimSpace(body)) == 0 {
		return createRequest{}, errf(http.StatusBadRequest, codeEmptyBody, "The request body is empty.")
	}
	var raw struct {
		InstanceID  *string `json:"instance_id"`
		Name        *string `json:"name"`
		Description *string `json:"description"`
		Databases   []struct {
			Name *string `json:"name"`
		} `json:"databases"`
		BackupDatabaseIndividually *bool `json:"backup_database_individually"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return createRequest{}, errf(http.StatusBadRequest, codeParam, "Invalid request body: %s", jsonProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return createRequest{}, errf(http.StatusBadRequest, codeParam, "Invalid request body: trailing data after the JSON object")
	}
	var c createRequest
	if raw.InstanceID == nil || *raw.InstanceID == "" {
		return c, errf(http.StatusBadRequest, codeParam, "instance_id is required.")
	}
	c.InstanceID = *raw.InstanceID
	if raw.Name == nil {
		return c, errf(http.StatusBadRequest, codeParam, "name is required.")
	}
	c.Name = *raw.Name
	if !backupName.MatchString(c.Name) {
		return c, errf(http.StatusBadRequest, codeParam, "Invalid backup name: it must be 4 to 64 characters, start with a letter and contain only letters, digits, hyphens and underscores.")
	}
	if raw.Description != nil {
		c.Description = *raw.Description
		if n := len([]rune(c.Description)); n > 256 {
			return c, errf(http.StatusBadRequest, codeParam, "Invalid description: %d characters, at most 256 are allowed.", n)
		}
		if strings.ContainsAny(c.Description, `>!<"&'=`) {
			return c, errf(http.StatusBadRequest, codeParam, "Invalid description: it cannot contain >!<\"&'=")
		}
	}
	seen := map[string]bool{}
	for i, d := range raw.Databases {
		if d.Name == nil || *d.Name == "" {
			return c, errf(http.StatusBadRequest, codeParam, "databases[%d].name is required.", i)
		}
		if seen[*d.Name] {
			return c, errf(http.StatusBadRequest, codeParam, "Database %s is listed twice.", *d.Name)
		}
		seen[*d.Name] = true
		c.Databases = append(c.Databases, *d.Name)
	}
	if raw.BackupDatabaseIndividually != nil {
		c.hasIndividual, c.Individually = true, *raw.BackupDatabaseIndividually
		if c.Individually && len(c.Databases) == 0 {
			return c, errf(http.StatusBadRequest, codeParam, "backup_database_individually requires databases.")
		}
	}
	return c, nil
}

// jsonProblem says what is wrong with a body without echoing it back.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %s has the wrong type", te.Field)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "truncated JSON"
	}
	return "not a JSON object"
}

// engineOf is the Huawei datastore type of a fixture instance.
func engineOf(in fixture.Instance) string {
	if in.Engine == "" {
		return "MySQL"
	}
	return in.Engine
}

var engineVersions = map[string]string{"MySQL": "8.0", "PostgreSQL": "14", "SQLServer": "2019_SE", "MariaDB": "10.5"}

// huaweiInstance finds a Huawei RDS instance of the fleet.
func (s *Server) huaweiInstance(id string) (fixture.Instance, bool) {
	in, ok := s.o.Fleet.Find(id)
	if !ok || in.Product != provider.HuaweiRDS {
		return fixture.Instance{}, false
	}
	return in, true
}

// createBackup is POST /v3/{project_id}/backups.
func (s *Server) createBackup(_ *http.Request, body []byte, now time.Time) (any, *apiError) {
	c, e := decodeCreate(body)
	if e != nil {
		return nil, e
	}
	in, ok := s.huaweiInstance(c.InstanceID)
	if !ok {
		return nil, errf(http.StatusNotFound, codeNoInstance, "The DB instance does not exist.")
	}
	if in.ReadOnly {
		return nil, errf(http.StatusBadRequest, codeBadState, "Read replicas do not support manual backup creation.")
	}
	if st := instanceStatus(in); st != "ACTIVE" {
		return nil, errf(http.StatusBadRequest, codeBadState, "The DB instance status %s does not allow this operation.", st)
	}
	if len(c.Databases) > 0 || c.hasIndividual {
		if engineOf(in) != "SQLServer" {
			return nil, errf(http.StatusBadRequest, codeParam, "Only Microsoft SQL Server DB instances support partial backups.")
		}
		if len(in.Databases) > 0 {
			for _, d := range c.Databases {
				if !hasDatabase(in, d) {
					return nil, errf(http.StatusBadRequest, codeParam, "Database %s does not exist on the DB instance.", d)
				}
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	busy := in.Busy
	if b, ok := s.busy[in.ID]; ok {
		busy = b
	}
	if busy {
		return nil, errf(http.StatusConflict, codeBusy, "Another operation is being performed on the DB instance or the DB instance is faulty. Try again later.")
	}
	for _, b := range s.byInstance[in.ID] {
		if b.name == c.Name {
			return nil, errf(http.StatusConflict, codeDuplicateName, "The backup name already exists.")
		}
	}
	failMsg := in.FailJobs
	if m, ok := s.failJobs[in.ID]; ok {
		failMsg = m
	}
	dur := s.o.JobDuration
	if in.Duration > 0 {
		dur = in.Duration
	}
	s.ids++
	b := &backup{id: backupID(in.ID, c.Name, s.ids), instanceID: in.ID, name: c.Name, description: c.Description,
		databases: c.Databases, created: now.UTC().Truncate(time.Second), duration: dur, failMsg: failMsg, engine: engineOf(in),
		individually: c.Individually}
	s.backups = append(s.backups, b)
	if s.byInstance == nil {
		s.byInstance = map[string][]*backup{}
	}
	s.byInstance[in.ID] = append(s.byInstance[in.ID], b)
	return map[string]any{"backup": createdView(b)}, nil
}

func hasDatabase(in fixture.Instance, name string) bool {
	for _, d := range in.Databases {
		if d.Name == name {
			return true
		}
	}
	return false
}

// backupID is a reproducible UUID-shaped id, like the seed's example.
func backupID(instanceID, name string, n uint64) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("%s/%s/%d", instanceID, name, n)))
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

type dbView struct {
	Name string `json:"name"`
}

func dbViews(names []string) []dbView {
	if len(names) == 0 {
		return nil
	}
	out := make([]dbView, len(names))
	for i, n := range names {
		out[i] = dbView{n}
	}
	return out
}

type createdBackup struct {
	ID          string   `json:"id"`
	InstanceID  string   `json:"instance_id"`
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Databases   []dbView `json:"databases,omitempty"`
	BeginTime   string   `json:"begin_time"`
	Status      string   `json:"status"`
	Type        string   `json:"type"`
}

func createdView(b *backup) createdBackup {
	return createdBackup{ID: b.id, InstanceID: b.instanceID, Name: b.name, Description: b.description,
		Databases: dbViews(b.databases), BeginTime: b.created.Format(timeFormat), Status: statusBuilding, Type: "manual"}
}

type listedBackup struct {
	ID         string   `json:"id"`
	InstanceID string   `json:"instance_id"`
	Name       string   `json:"name"`
	Databases  []dbView `json:"databases,omitempty"`
	BeginTime  string   `json:"begin_time"`
	EndTime    string   `json:"end_time"`
	Status     string   `json:"status"`
	Type       string   `json:"type"`
	Size       int64    `json:"size"`
	Datastore  struct {
		Type    string `json:"type"`
		Version string `json:"version"`
	} `json:"datastore"`
}

func listedView(b *backup, now time.Time) listedBackup {
	l := listedBackup{ID: b.id, InstanceID: b.instanceID, Name: b.name, Databases: dbViews(b.databases),
		BeginTime: b.created.Format(timeFormat), Status: b.status(now), Type: "manual"}
	l.Datastore.Type, l.Datastore.Version = b.engine, engineVersions[b.engine]
	if l.Status != statusBuilding {
		l.EndTime = b.created.Add(b.duration).Format(timeFormat)
	}
	if l.Status == statusCompleted {
		// A stable, plausible size in KB.
		l.Size = 1024 + int64(len(b.name))*4096
	}
	return l
}

// pageParams reads offset (≥ 0, default 0) and limit (1–100, default 100).
func pageParams(q url.Values) (offset, limit int, e *apiError) {
	offset, limit = 0, 100
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, 0, errf(http.StatusBadRequest, codeParam, "Invalid offset %q: it must be a non-negative integer.", v)
		}
		offset = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return 0, 0, errf(http.StatusBadRequest, codeParam, "Invalid limit %q: it must be between 1 and 100.", v)
		}
		limit = n
	}
	return offset, limit, nil
}

// parseTime accepts the documented forms: a trailing Z or a ±hhmm offset.
func parseTime(v string) (time.Time, error) {
	for _, f := range []string{"2006-01-02T15:04:05Z0700", timeFormat, time.RFC3339} {
		if t, err := time.Parse(f, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q is not yyyy-mm-ddThh:mm:ssZ", v)
}

// listBackups is GET /v3/{project_id}/backups.
// deleteBackup is DELETE /v3/{project_id}/backups/{backup_id}: the backup
// shows DELETING for deleteDuration, then is gone (facts §5.3).
func (s *Server) deleteBackup(r *http.Request, _ []byte, now time.Time) (any, *apiError) {
	id := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.backups {
		if b.id == id && (b.deleted.IsZero() || now.Before(b.deleted.Add(deleteDuration))) {
			if b.deleted.IsZero() {
				b.deleted = now
			}
			return map[string]any{}, nil
		}
	}
	return nil, errf(http.StatusNotFound, codeNoBackup, "The backup %s does not exist.", id)
}

func (s *Server) listBackups(r *http.Request, _ []byte, now time.Time) (any, *apiError) {
	q := r.URL.Query()
	id := q.Get("instance_id")
	if id == "" {
		return nil, errf(http.StatusBadRequest, codeParam, "instance_id is required.")
	}
	if _, ok := s.huaweiInstance(id); !ok {
		return nil, errf(http.StatusNotFound, codeNoInstance, "The DB instance does not exist.")
	}
	offset, limit, e := pageParams(q)
	if e != nil {
		return nil, e
	}
	typ := q.Get("backup_type")
	switch typ {
	case "", "auto", "manual", "fragment", "incremental":
	default:
		return nil, errf(http.StatusBadRequest, codeParam, "Invalid backup_type %q.", typ)
	}
	status := q.Get("status")
	switch status {
	case "", statusBuilding, statusCompleted, statusFailed, statusDeleting:
	default:
		return nil, errf(http.StatusBadRequest, codeParam, "Invalid status %q.", status)
	}
	var from, to time.Time
	if b, en := q.Get("begin_time"), q.Get("end_time"); b != "" || en != "" {
		if b == "" || en == "" {
			return nil, errf(http.StatusBadRequest, codeParam, "begin_time and end_time must be used together.")
		}
		var err1, err2 error
		from, err1 = parseTime(b)
		to, err2 = parseTime(en)
		if err1 != nil || err2 != nil || !to.After(from) {
			return nil, errf(http.StatusBadRequest, codeParam, "Invalid begin_time or end_time.")
		}
	}
	backupID := q.Get("backup_id")

	s.mu.Lock()
	var match []listedBackup
	// Newest first, as the console and API list them.
	own := s.byInstance[id]
	for i := len(own) - 1; i >= 0; i-- {
		b := own[i]
		if (backupID != "" && b.id != backupID) || (typ != "" && typ != "manual") ||
			!b.deleted.IsZero() && !now.Before(b.deleted.Add(deleteDuration)) {
			continue
		}
		if !from.IsZero() && (b.created.Before(from) || b.created.After(to)) {
			continue
		}
		v := listedView(b, now)
		if status != "" && v.Status != status {
			continue
		}
		match = append(match, v)
	}
	s.mu.Unlock()
	total := len(match)
	page := []listedBackup{}
	if offset < total {
		page = match[offset:min(total, offset+limit)]
	}
	return map[string]any{"backups": page, "total_count": total}, nil
}

// sortedTags returns tags as [{key,value}] in key order.
func sortedTags(m map[string]string) []map[string]string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]map[string]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, map[string]string{"key": k, "value": m[k]})
	}
	return out
}
