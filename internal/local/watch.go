package local

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/backupflow/backupflow/internal/descriptor"
)

// watcher turns files written into a bucket folder into the COS events a
// serverless.yml COS trigger would deliver.
type watcher struct {
	function, trigger string
	root              string // Dir/cos/<bucket>
	bucket, appID     string // bucket is <name>-<appid>
	region            string // long form
	prefix, suffix    string
	events            string
	seen, pending     map[string]fileSig
	baselined         bool
}

type fileSig struct {
	size int64
	mod  time.Time
}

// newWatcher reads a COS trigger: bucket "<name>-<appid>.cos.<region>.myqcloud.com".
func newWatcher(t descriptor.Trigger, cosDir, appID string) (*watcher, error) {
	p := t.Parameters
	bucket, rest, _ := strings.Cut(p.Bucket, ".cos.")
	region, _, _ := strings.Cut(rest, ".")
	if bucket == "" || region == "" {
		return nil, fmt.Errorf("serverless.yml: cos trigger of %s: bucket %q is not <name>-<appid>.cos.<region>.myqcloud.com", t.Function, p.Bucket)
	}
	if i := strings.LastIndex(bucket, "-"); i > 0 {
		appID = bucket[i+1:]
	}
	events := p.Events
	if events == "" {
		events = "cos:ObjectCreated:*"
	}
	return &watcher{function: t.Function, trigger: "cos:" + bucket, root: filepath.Join(cosDir, bucket), bucket: bucket,
		appID: appID, region: region, prefix: p.Filter.Prefix, suffix: p.Filter.Suffix, events: events,
		seen: map[string]fileSig{}, pending: map[string]fileSig{}}, nil
}

// Match applies the trigger's filter to an event for key.
func (w *watcher) Match(eventName, key string) bool {
	return eventMatches(w.events, eventName) && strings.HasPrefix(key, w.prefix) && strings.HasSuffix(key, w.suffix)
}

// eventMatches compares a delivered event with a configured one, which may
// end in "*" (cos:ObjectCreated:*).
func eventMatches(configured, name string) bool {
	if p, ok := strings.CutSuffix(configured, "*"); ok {
		return strings.HasPrefix(name, p)
	}
	return configured == name
}

// scan walks the folder once and returns the keys whose file is new or
// changed and has kept its size and time since the previous scan (so a file
// still being copied is not delivered half-written). The first scan only
// records what is already there: SCF fires for uploads, not for history.
func (w *watcher) scan() ([]string, error) {
	start := w.root
	if dir := path.Dir(w.prefix + "x"); dir != "." {
		// Only the prefix's folder can hold matching keys.
		start = filepath.Join(w.root, filepath.FromSlash(dir))
	}
	now := map[string]fileSig{}
	err := filepath.WalkDir(start, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if e.IsDir() || !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			return nil // hidden files include the emulator's temporary uploads
		}
		fi, err := e.Info()
		if err != nil {
			return nil
		}
		rel, err := filepath.Rel(w.root, p)
		if err != nil {
			return err
		}
		now[filepath.ToSlash(rel)] = fileSig{size: fi.Size(), mod: fi.ModTime()}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var ready []string
	for key, sig := range now {
		switch {
		case !w.baselined:
			w.seen[key] = sig
		case w.seen[key] == sig:
		case w.pending[key] == sig:
			delete(w.pending, key)
			w.seen[key] = sig
			ready = append(ready, key)
		default:
			w.pending[key] = sig
		}
	}
	for key := range w.seen {
		if _, ok := now[key]; !ok {
			delete(w.seen, key) // deleted: writing it again is a new upload
		}
	}
	w.baselined = true
	return ready, nil
}

// Event builds the COS trigger payload for an object in this bucket, shaped
// as events/start-migration/scf-cos-put.json.
func (w *watcher) Event(key string, at time.Time) ([]byte, error) {
	f, err := os.Open(filepath.Join(w.root, filepath.FromSlash(key)))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := md5.New()
	size, err := io.Copy(h, f)
	if err != nil {
		return nil, err
	}
	return COSEvent(COSObject{Bucket: w.bucket, AppID: w.appID, Region: w.region, Key: key, Size: size,
		ETag: hex.EncodeToString(h.Sum(nil)), Function: w.function}, at)
}

// COSObject is what a COS event says about an upload.
type COSObject struct {
	Bucket, AppID, Region, Key string // Bucket is <name>-<appid>; Region long form
	Size                       int64
	ETag                       string // hex MD5, unquoted
	Function                   string
}

// COSEvent renders the SCF COS trigger payload: the bucket name without
// its appid, the key as /<appid>/<name>/<key>, the region's short code and
// the event time in Unix seconds.
func COSEvent(o COSObject, at time.Time) ([]byte, error) {
	name := strings.TrimSuffix(o.Bucket, "-"+o.AppID)
	short := shortRegion(o.Region)
	type obj = map[string]any
	ev := obj{"Records": []obj{{
		"cos": obj{
			"cosSchemaVersion":  "1.0",
			"cosNotificationId": "backupflow-local",
			"cosBucket":         obj{"name": name, "appid": o.AppID, "region": short},
			"cosObject": obj{
				"key":  "/" + o.AppID + "/" + name + "/" + o.Key,
				"size": o.Size,
				"url":  "https://" + o.Bucket + ".cos." + o.Region + ".myqcloud.com/" + o.Key,
				"meta": obj{"Content-Type": "application/octet-stream", "ETag": `"` + o.ETag + `"`,
					"x-cos-request-id": "local-" + nonce()},
				"vid": "",
			},
		},
		"event": obj{
			"eventName":         "cos:ObjectCreated:Put",
			"eventVersion":      "1.0",
			"eventSource":       "qcs::cos",
			"eventTime":         at.Unix(),
			"eventQueue":        "qcs:0:lambda:" + short + ":appid/" + o.AppID + ":default." + o.Function + ".$LATEST",
			"requestParameters": obj{"requestSourceIP": "127.0.0.1", "requestHeaders": obj{"Authorization": "q-sign-algorithm=sha1&q-ak=REDACTED"}},
			"reservedInfo":      "",
			"reqid":             at.UnixNano() % 1e9,
		},
	}}}
	return json.Marshal(ev)
}

// regionCodes are COS's legacy short region codes, used in COS events.
var regionCodes = map[string]string{
	"ap-beijing": "bj", "ap-shanghai": "sh", "ap-guangzhou": "gz", "ap-chengdu": "cd", "ap-chongqing": "cq",
	"ap-nanjing": "nj", "ap-hongkong": "hk", "ap-singapore": "sg", "ap-tokyo": "tokyo", "ap-seoul": "kr",
	"ap-mumbai": "in", "ap-bangkok": "th", "na-siliconvalley": "usw", "na-ashburn": "use", "eu-frankfurt": "de",
	"ap-shanghai-fsi": "shjr", "ap-shenzhen-fsi": "szjr", "ap-beijing-fsi": "bjjr",
}

func shortRegion(r string) string {
	if c, ok := regionCodes[r]; ok {
		return c
	}
	return r
}

// watch scans the folder until the stack stops, delivering each ready
// file's event if the trigger's filter matches it.
func (s *Stack) watch(w *watcher) {
	t := time.NewTicker(s.opts.Scan)
	defer t.Stop()
	for {
		ready, err := w.scan()
		if err != nil {
			s.opts.Log.Warn("bucket folder scan failed", "folder", w.root, "err", err)
		}
		for _, key := range ready {
			if !w.Match("cos:ObjectCreated:Put", key) {
				continue
			}
			ev, err := w.Event(key, time.Now())
			if err != nil {
				s.opts.Log.Warn("upload not delivered", "key", key, "err", err)
				continue
			}
			fmt.Fprintf(s.con, "%s cos: %s/%s uploaded → %s\n", time.Now().Format("15:04:05"), w.bucket, key, w.function)
			s.InvokeAsync(w.function, w.trigger+"/"+key, ev, false)
		}
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
	}
}
