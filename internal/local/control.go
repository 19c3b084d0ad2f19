package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// LockFile is the file, in the state folder, that marks a running stack: it
// holds the stack's pid and the address and token of its control endpoint,
// through which `backupflow local trigger` reaches it.
const LockFile = "local.lock"

// lockInfo is the lock file's content.
type lockInfo struct {
	PID     int    `json:"pid"`
	Control string `json:"control"` // http://127.0.0.1:port
	Token   string `json:"token"`
	Started string `json:"started"`
}

// ErrNotRunning is returned by Trigger when no stack holds the folder.
var ErrNotRunning = errors.New("no backupflow local is running")

// ErrLocked is returned by Start when a live stack already holds the folder.
var ErrLocked = errors.New("another backupflow local is running on this folder")

// lock takes the state folder for this process. A second stack on the same
// folder would reset the ledger under the first one, so it is refused; a
// lock left by a process that is gone is taken over. The lock is written
// complete under a private name and then linked into place, so a reader
// never sees half of it and only one of two starting stacks wins.
func lock(dir string, info lockInfo) (release func(), err error) {
	path := filepath.Join(dir, LockFile)
	b, _ := json.Marshal(info)
	tmp := filepath.Join(dir, fmt.Sprintf(".%s.%d.%s", LockFile, info.PID, info.Token[:8]))
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	defer os.Remove(tmp)
	for try := 0; ; try++ {
		err := os.Link(tmp, path)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrExist) || try > 0 {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		old, rerr := readLock(dir)
		if rerr == nil && alive(old.PID) {
			return nil, fmt.Errorf("%w: pid %d holds %s since %s; send it commands with `backupflow local trigger NAME`, "+
				"stop it, or use another --dir", ErrLocked, old.PID, path, old.Started)
		}
		// Its process is gone (or the file is not ours to read): stale.
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("stale lock %s: %w", path, err)
		}
	}
	return func() {
		// Only our own lock: a stale-lock takeover may have replaced it.
		if cur, err := readLock(dir); err == nil && cur.Token == info.Token {
			_ = os.Remove(path)
		}
	}, nil
}

func readLock(dir string) (lockInfo, error) {
	var info lockInfo
	b, err := os.ReadFile(filepath.Join(dir, LockFile))
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return info, fmt.Errorf("%s: %w", LockFile, err)
	}
	return info, nil
}

// alive reports whether a process with this pid exists.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	if runtime.GOOS == "windows" {
		return true // FindProcess fails there for a pid that is gone
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, os.ErrPermission)
}

// serveControl answers the commands of `backupflow local trigger` on the
// control listener. Every request must carry the lock file's token, which
// only the folder's owner can read.
func (s *Stack) serveControl(lis net.Listener, token string) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /trigger/{name}", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "wrong or missing token (read it from "+LockFile+")", http.StatusUnauthorized)
			return
		}
		name := r.PathValue("name")
		if !s.hasTimer(name) {
			http.Error(w, fmt.Sprintf("serverless.yml has no timer trigger named %q (timers: %s)", name,
				strings.Join(s.timerNames(), ", ")), http.StatusNotFound)
			return
		}
		rep, err := s.FireTimer(name)
		if err != nil {
			http.Error(w, fmt.Sprintf("%s: %v", name, err), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(rep)
	})
	s.control = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.control.Serve(lis) }()
}

func (s *Stack) hasTimer(name string) bool {
	for _, n := range s.timerNames() {
		if n == name {
			return true
		}
	}
	return false
}

func (s *Stack) timerNames() []string {
	var names []string
	for _, t := range s.Desc.Inputs.Triggers {
		if t.Type == "timer" {
			names = append(names, t.Parameters.Name)
		}
	}
	return names
}

// TriggerError is a refusal by the running stack (an unknown trigger, a
// failed invocation), as opposed to not reaching it.
type TriggerError struct {
	Status int
	Msg    string
}

func (e *TriggerError) Error() string { return e.Msg }

// Trigger asks the stack running on dir to fire the named timer trigger now,
// as SCF would at its time, and returns the function's raw report (JSON).
func Trigger(ctx context.Context, dir, name string) ([]byte, error) {
	info, err := readLock(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w on %s (start one with `make run` or `backupflow local`)", ErrNotRunning, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if !alive(info.PID) {
		return nil, fmt.Errorf("%w on %s (pid %d of %s is gone)", ErrNotRunning, dir, info.PID, filepath.Join(dir, LockFile))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, info.Control+"/trigger/"+name, nil)
	if err != nil {
		return nil, fmt.Errorf("trigger: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+info.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("trigger: the stack (pid %d) did not answer: %w", info.PID, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("trigger: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &TriggerError{Status: resp.StatusCode, Msg: strings.TrimSpace(string(b))}
	}
	return b, nil
}
