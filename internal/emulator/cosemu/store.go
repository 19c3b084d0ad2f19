package cosemu

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

var (
	errNoKey    = errors.New("no such key")
	errExists   = errors.New("key exists")
	errBadKey   = errors.New("key cannot be stored")
	errTooLarge = errors.New("object too large")
)

// meta describes a stored object.
type meta struct {
	key     string
	size    int64
	etag    string // hex MD5, unquoted
	crc64   string // decimal CRC-64/ECMA, the SDK checks it after a PUT
	modTime time.Time
}

var crcTable = crc64.MakeTable(crc64.ECMA)

func crcString(sum uint64) string { return strconv.FormatUint(sum, 10) }

// store holds the objects of every bucket. Bucket existence is decided by
// the Server; a store only sees bucket names it was told about.
type store interface {
	head(bucket, key string) (meta, error)
	open(bucket, key string) (io.ReadSeekCloser, meta, error)
	put(bucket, key string, r io.Reader, forbidOverwrite bool, now time.Time) (meta, error)
	delete(bucket, key string) error
	list(bucket, prefix string) ([]meta, error) // sorted by key
}

// memStore keeps objects in memory.
type memStore struct {
	mu      sync.RWMutex
	buckets map[string]map[string]*memObject
	max     int64
}

type memObject struct {
	meta
	data []byte
}

func newMemStore(max int64) *memStore {
	return &memStore{buckets: map[string]map[string]*memObject{}, max: max}
}

func (m *memStore) head(bucket, key string) (meta, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	o, ok := m.buckets[bucket][key]
	if !ok {
		return meta{}, errNoKey
	}
	return o.meta, nil
}

func (m *memStore) open(bucket, key string) (io.ReadSeekCloser, meta, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	o, ok := m.buckets[bucket][key]
	if !ok {
		return nil, meta{}, errNoKey
	}
	// Objects are replaced, never mutated, so the slice can be shared.
	return nopCloser{bytes.NewReader(o.data)}, o.meta, nil
}

type nopCloser struct{ io.ReadSeeker }

func (nopCloser) Close() error { return nil }

func (m *memStore) put(bucket, key string, r io.Reader, forbid bool, now time.Time) (meta, error) {
	data, err := io.ReadAll(io.LimitReader(r, m.max+1))
	if err != nil {
		return meta{}, err
	}
	if int64(len(data)) > m.max {
		return meta{}, errTooLarge
	}
	sum := md5.Sum(data)
	o := &memObject{meta: meta{key: key, size: int64(len(data)), etag: hex.EncodeToString(sum[:]),
		crc64: crcString(crc64.Checksum(data, crcTable)), modTime: now}, data: data}
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.buckets[bucket]
	if b == nil {
		b = map[string]*memObject{}
		m.buckets[bucket] = b
	}
	if _, ok := b[key]; ok && forbid {
		return meta{}, errExists
	}
	b[key] = o
	return o.meta, nil
}

func (m *memStore) delete(bucket, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.buckets[bucket], key)
	return nil
}

func (m *memStore) list(bucket, prefix string) ([]meta, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []meta
	for k, o := range m.buckets[bucket] {
		if strings.HasPrefix(k, prefix) {
			out = append(out, o.meta)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out, nil
}

// dirStore keeps bucket <name> in <dir>/<name>/ as plain files, so a user can
// drop a .bak in with a file manager and import it.
type dirStore struct {
	dir string
	max int64
	// mu serialises create-if-absent against overwrite; reads go to the
	// file system directly.
	mu    sync.Mutex
	etags sync.Map // path -> etagEntry; MD5 of a multi-GB backup is costly
}

type etagEntry struct {
	size    int64
	modTime time.Time
	etag    string
	crc64   string
}

const tmpPrefix = ".cosemu-tmp-"

func (d *dirStore) path(bucket, key string) (string, error) {
	// Keys that are not plain relative paths (leading "/", "..", empty
	// segments, a trailing "/") have no file of their own.
	if key == "" || strings.HasSuffix(key, "/") || !filepath.IsLocal(key) || path.Clean(key) != key ||
		strings.Contains(key, "\\") || strings.HasPrefix(path.Base(key), tmpPrefix) {
		return "", fmt.Errorf("%w: %q is not a plain relative path", errBadKey, key)
	}
	return filepath.Join(d.dir, bucket, filepath.FromSlash(key)), nil
}

func (d *dirStore) stat(p, key string) (meta, error) {
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && !fi.Mode().IsRegular()) {
		return meta{}, errNoKey
	}
	if err != nil {
		return meta{}, err
	}
	e, err := d.sums(p, fi)
	if err != nil {
		return meta{}, err
	}
	return meta{key: key, size: fi.Size(), etag: e.etag, crc64: e.crc64, modTime: fi.ModTime()}, nil
}

func (d *dirStore) sums(p string, fi fs.FileInfo) (etagEntry, error) {
	if v, ok := d.etags.Load(p); ok {
		if e := v.(etagEntry); e.size == fi.Size() && e.modTime.Equal(fi.ModTime()) {
			return e, nil
		}
	}
	f, err := os.Open(p)
	if err != nil {
		return etagEntry{}, err
	}
	defer f.Close()
	h, c := md5.New(), crc64.New(crcTable)
	if _, err := io.Copy(io.MultiWriter(h, c), f); err != nil {
		return etagEntry{}, err
	}
	e := etagEntry{size: fi.Size(), modTime: fi.ModTime(), etag: hex.EncodeToString(h.Sum(nil)), crc64: crcString(c.Sum64())}
	d.etags.Store(p, e)
	return e, nil
}

func (d *dirStore) head(bucket, key string) (meta, error) {
	p, err := d.path(bucket, key)
	if err != nil {
		return meta{}, errNoKey
	}
	return d.stat(p, key)
}

func (d *dirStore) open(bucket, key string) (io.ReadSeekCloser, meta, error) {
	p, err := d.path(bucket, key)
	if err != nil {
		return nil, meta{}, errNoKey
	}
	m, err := d.stat(p, key)
	if err != nil {
		return nil, meta{}, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, meta{}, errNoKey
	}
	if err != nil {
		return nil, meta{}, err
	}
	return f, m, nil
}

func (d *dirStore) put(bucket, key string, r io.Reader, forbid bool, now time.Time) (meta, error) {
	p, err := d.path(bucket, key)
	if err != nil {
		return meta{}, err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return meta{}, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), tmpPrefix+"*")
	if err != nil {
		return meta{}, err
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(tmp, io.LimitReader(r, d.max+1))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return meta{}, err
	}
	if n > d.max {
		return meta{}, errTooLarge
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if forbid {
		// A hard link fails when the target exists: atomic create-if-absent,
		// even against a file a user drops in at the same moment.
		if err := os.Link(tmp.Name(), p); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return meta{}, errExists
			}
			return meta{}, err
		}
	} else if err := os.Rename(tmp.Name(), p); err != nil {
		return meta{}, err
	}
	return d.stat(p, key)
}

func (d *dirStore) delete(bucket, key string) error {
	p, err := d.path(bucket, key)
	if err != nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func (d *dirStore) list(bucket, prefix string) ([]meta, error) {
	root := filepath.Join(d.dir, bucket)
	var out []meta
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if e.IsDir() || strings.HasPrefix(e.Name(), tmpPrefix) || !e.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		m, err := d.stat(p, key)
		if errors.Is(err, errNoKey) {
			return nil // removed while walking
		}
		if err != nil {
			return err
		}
		out = append(out, m)
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out, err
}
