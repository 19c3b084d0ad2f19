package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Docs as tests (issue 16 item 11). Every fenced block of docFiles says
// what it is: ```sh (commands) or ```console ($ commands and their output),
// each right under a marker — <!-- docs-test: ID --> (run by a test here,
// or by the test docElsewhere names) or <!-- cloud-only: why --> — or
// ```text (output, a synopsis, a tree: nothing to type). A new block
// without a language or a marker fails TestDocBlocksAreMarked, and
// TestDocumentedCommands runs every docs-test block with bash, the built
// binary on PATH as `backupflow`, in a copy of the checkout (as a fresh
// clone), so a command that stops working as written fails it.
var docFiles = []string{"README.md", "docs/local.md", "docs/operations.md"}

// docElsewhere are the docs-test blocks another test runs: the file that
// test is in (from internal/cli) and a string the file holds to find them.
var docElsewhere = map[string][2]string{
	"local-import-confirm": {"../local/chatimport_test.go", `"docs-test: local-import-confirm"`},
	"ops-plan":             {"docsample_test.go", "## Tonight's plan and last night's report"},
	"ops-report":           {"docsample_test.go", "## Tonight's plan and last night's report"},
	"ops-report-html":      {"docsample_test.go", "## Tonight's plan and last night's report"},
}

type docBlock struct {
	file   string
	line   int    // of the opening fence
	lang   string // after the fence
	kind   string // "docs-test", "cloud-only" or "" (no marker)
	arg    string // the block's id, or why it needs a real cloud
	text   string
	marked string // the marker line, for messages
}

var docMarker = regexp.MustCompile(`^<!-- (docs-test|cloud-only): (.*\S) -->$`)

// docBlocks reads the fenced blocks of docFiles. A marker is the last
// non-blank line before a fence.
func docBlocks(t *testing.T) []docBlock {
	t.Helper()
	var out []docBlock
	for _, f := range docFiles {
		b, err := os.ReadFile(filepath.Join("..", "..", f))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(b), "\n")
		prev := ""
		for i := 0; i < len(lines); i++ {
			l := lines[i]
			if !strings.HasPrefix(strings.TrimSpace(l), "```") {
				if strings.TrimSpace(l) != "" {
					prev = l
				}
				continue
			}
			blk := docBlock{file: f, line: i + 1, lang: strings.TrimPrefix(strings.TrimSpace(l), "```")}
			if m := docMarker.FindStringSubmatch(prev); m != nil {
				blk.kind, blk.arg, blk.marked = m[1], m[2], prev
				if blk.kind == "docs-test" {
					blk.arg = strings.Fields(blk.arg)[0]
				}
			}
			j := i + 1
			for j < len(lines) && strings.TrimSpace(lines[j]) != "```" {
				j++
			}
			if j == len(lines) {
				t.Fatalf("%s:%d: the block is not closed", f, i+1)
			}
			blk.text = strings.Join(lines[i+1:j], "\n") + "\n"
			out = append(out, blk)
			i, prev = j, ""
		}
	}
	return out
}

// looksTyped says whether a line of a text block is a command a user would
// type: then the block is a shell block that escapes the markers.
func looksTyped(line string) bool {
	for _, p := range []string{"$ ", "make ", "go run ", "curl ", "bin/backupflow "} {
		if strings.HasPrefix(line, p) {
			return true
		}
	}
	f := strings.Fields(line)
	if len(f) > 1 && f[0] == "backupflow" {
		_, ok := commands[f[1]]
		return ok
	}
	return false
}

// Every block is marked, every marker names a block runner that exists,
// and every runner has its block: a new shell block with neither a test
// nor a cloud-only marker fails here, and so does a removed one.
func TestDocBlocksAreMarked(t *testing.T) {
	seen := map[string]string{}
	for _, b := range docBlocks(t) {
		at := fmt.Sprintf("%s:%d", b.file, b.line)
		switch b.lang {
		case "text":
			if b.kind != "" {
				t.Errorf("%s: a text block is not run; drop %q or make it sh", at, b.marked)
			}
			for _, l := range strings.Split(b.text, "\n") {
				if looksTyped(l) {
					t.Errorf("%s: the text block holds the command %q: make it sh or console, run by a test (<!-- docs-test: ID -->) or <!-- cloud-only: why -->", at, l)
					break
				}
			}
		case "sh", "console":
			switch b.kind {
			case "cloud-only":
			case "docs-test":
				if prev, dup := seen[b.arg]; dup {
					t.Errorf("%s: docs-test %s is also the id of the block at %s", at, b.arg, prev)
				}
				seen[b.arg] = at
				_, here := docRunners()[b.arg]
				_, there := docElsewhere[b.arg]
				if !here && !there {
					t.Errorf("%s: no test runs docs-test %s (add it to docRunners or docElsewhere)", at, b.arg)
				}
			default:
				t.Errorf("%s: a %s block needs <!-- docs-test: ID --> (and a test that runs it) or <!-- cloud-only: why --> on the line above", at, b.lang)
			}
		default:
			t.Errorf("%s: fence %q: say sh or console (commands, marked) or text (nothing to type)", at, "```"+b.lang)
		}
	}
	scheduled := map[string]int{}
	for _, g := range docGroups {
		for _, id := range g.steps {
			scheduled[id]++
		}
	}
	for id := range docRunners() {
		if _, ok := seen[id]; !ok {
			t.Errorf("docRunners runs %s, but no block is marked <!-- docs-test: %s -->", id, id)
		}
		if scheduled[id] != 1 {
			t.Errorf("docs-test %s is a step of %d docGroups; want 1", id, scheduled[id])
		}
	}
	for id, where := range docElsewhere {
		if _, ok := seen[id]; !ok {
			t.Errorf("docElsewhere names %s, but no block is marked <!-- docs-test: %s -->", id, id)
		}
		b, err := os.ReadFile(where[0])
		if err != nil || !bytes.Contains(b, []byte(where[1])) {
			t.Errorf("docs-test %s: %s does not hold %q, so it does not run the block (%v)", id, where[0], where[1], err)
		}
	}
}

// docStep runs one block in its group's shell.
type docStep func(t *testing.T, sh *docShell, block string)

// docGroup is a sequence of blocks sharing a shell (and what it started).
type docGroup struct {
	name    string
	inClone bool // run in the copy of the checkout, else in an empty folder
	setup   func(t *testing.T, sh *docShell)
	steps   []string // block ids, in order
}

// docRunners maps each block id run here to its step.
func docRunners() map[string]docStep {
	return map[string]docStep{
		"readme-quickstart":      stepQuickstart,
		"local-trigger":          stepTrigger,
		"local-drop":             stepDrop,
		"local-chat":             stepChat,
		"local-status":           stepStatus,
		"local-invoke":           stepInvoke,
		"ops-emulator-recipe":    stepRecipe,
		"ops-emulator-import":    stepImport,
		"ops-import-rerun":       stepRerun,
		"ops-retention-emulator": stepRetention,
		"ops-retention-preview":  stepRetentionPreview,
		"ops-dead-list":          stepDeadList,
		"ops-dead-replay":        stepDeadReplay,
		"ops-dead-drop":          stepDeadDrop,
	}
}

var docGroups = []docGroup{
	// README's quick start, then docs/local.md while its `make run` runs.
	{"local", true, nil, []string{"readme-quickstart", "local-trigger", "local-drop", "local-chat", "local-status", "local-invoke"}},
	{"recipe", false, nil, []string{"ops-emulator-recipe"}},
	{"import", false, nil, []string{"ops-emulator-import", "ops-import-rerun"}},
	// "Against the emulator, after its export block": the emulator is
	// started and pasted as "Backups and imports by hand" shows.
	{"retention", false, func(t *testing.T, sh *docShell) { sh.lines("backupflow emulator\n", false, nil) },
		[]string{"ops-retention-emulator", "ops-retention-preview"}},
	// The dead-letter blocks over the emulator standing in for a deployed
	// system (setupDeadLetter); nothing drains its queues, so the replayed
	// job stays queued.
	{"dead", false, setupDeadLetter, []string{"ops-dead-list", "ops-dead-replay", "ops-dead-drop"}},
}

// TestDocumentedCommands runs every docs-test block of docFiles that
// docRunners knows. The groups run in parallel; the blocks of a group in
// order. What differs from typing the block, and why, is in docShell.subst
// and the steps' skips; nothing else is changed.
func TestDocumentedCommands(t *testing.T) {
	bin := builtCLI(t)
	if _, err := exec.LookPath("make"); err != nil {
		t.Skipf("make is not installed: %v", err)
	}
	for _, tool := range []string{"bash", "curl", "openssl", "git"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: %v", tool, err)
		}
	}
	blocks := map[string]string{}
	for _, b := range docBlocks(t) {
		if b.kind == "docs-test" {
			blocks[b.arg] = b.text
		}
	}
	runners := docRunners()
	clone := copyCheckout(t)
	for _, g := range docGroups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if g.inClone {
				dir = clone
			}
			sh := newDocShell(t, filepath.Dir(bin), dir)
			if g.setup != nil {
				g.setup(t, sh)
			}
			for _, id := range g.steps {
				text, ok := blocks[id]
				if !ok {
					t.Fatalf("no block is marked docs-test %s", id)
				}
				t.Logf("docs-test %s", id)
				runners[id](t, sh, text)
				if t.Failed() {
					break // the next blocks stand on this one
				}
			}
			sh.stopAll()
		})
	}
}

// copyCheckout copies the checkout's files (tracked, and new ones not
// ignored: what a clone of this change holds) into a fresh folder.
func copyCheckout(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	dst := filepath.Join(t.TempDir(), "backupflow")
	for _, f := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		src := filepath.Join(root, f)
		fi, err := os.Lstat(src)
		if err != nil || !fi.Mode().IsRegular() {
			continue // deleted in the work tree, or a link
		}
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, f), b, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// docShell is a user's terminal: a working folder, a clean environment
// with `backupflow` on PATH, and what was pasted into it.
type docShell struct {
	t       *testing.T
	dir     string
	scratch string // stands for /tmp, so parallel runs do not share files
	env     []string
	paste   string // the emulator's export block, once one is running
	subst   []string
	procs   map[string]*docProc
	chat    int               // the local stack's chat port
	jobs    map[string]string // job ids a step printed, for the next ones
}

func newDocShell(t *testing.T, bindir, dir string) *docShell {
	var env []string
	for _, kv := range os.Environ() {
		// A fresh shell: nothing of a cloud or a stack set before.
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "BACKUPFLOW_") || strings.HasPrefix(k, "TENCENTCLOUD_") ||
			strings.HasPrefix(k, "HUAWEICLOUD_") || strings.HasPrefix(k, "AWS_") || k == "PATH" {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "PATH="+bindir+string(os.PathListSeparator)+os.Getenv("PATH"))
	sh := &docShell{t: t, dir: dir, scratch: t.TempDir(), env: env, procs: map[string]*docProc{}, chat: freePort(t), jobs: map[string]string{}}
	// What differs from the docs as written, and why:
	sh.subst = []string{
		// The emulator's default port (9090) and the stack's chat port
		// (9091) may be taken on a shared machine: each gets a free one.
		"backupflow emulator", "backupflow emulator --listen 127.0.0.1:0",
		"make run", fmt.Sprintf(`make run ARGS="--chat-listen 127.0.0.1:%d"`, sh.chat),
		"localhost:9091", "localhost:" + strconv.Itoa(sh.chat),
		// Scratch files in a folder of this test's own.
		"/tmp/", sh.scratch + "/",
	}
	t.Cleanup(func() {
		for _, p := range sh.procs {
			p.kill()
		}
	})
	return sh
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (sh *docShell) substitute(line string) string {
	for i := 0; i+1 < len(sh.subst); i += 2 {
		line = strings.ReplaceAll(line, sh.subst[i], sh.subst[i+1])
	}
	return line
}

// script runs text with bash in the shell's folder, after what was
// pasted, and fails the test when it exits non-zero. It returns what the
// commands printed (stdout and stderr, as a terminal shows them).
func (sh *docShell) script(text string) string {
	sh.t.Helper()
	out, err := sh.bash(text)
	if err != nil {
		sh.t.Fatalf("as documented:\n%s\nit failed (%v):\n%s", text, err, out)
	}
	return out
}

// bash runs text after what was pasted, in the shell's folder.
func (sh *docShell) bash(text string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", sh.paste+text)
	cmd.Dir, cmd.Env = sh.dir, sh.env
	out, err := cmd.CombinedOutput()
	sh.t.Logf("$ %s\n%s", text, out)
	return string(out), err
}

// longRunning are the commands a user leaves running, and what they print
// when they are ready.
var longRunning = []struct{ prefix, ready string }{
	{"backupflow emulator", "export TENCENTCLOUD_SECRET_KEY="},
	{"make run", "Ctrl-C to stop"},
}

// lines runs a block as a user types it: one command a line (in a console
// block, the lines after "$ "), comments and output not typed. A command
// the user leaves running is started and kept until the group ends; an
// emulator's export block is pasted into the shell. skip names commands
// not run, with why. It returns each command's output, in order.
func (sh *docShell) lines(block string, console bool, skip map[string]string) []string {
	sh.t.Helper()
	var outs []string
	for _, l := range strings.Split(block, "\n") {
		l = strings.TrimSpace(l)
		if console {
			if !strings.HasPrefix(l, "$ ") {
				continue
			}
			l = strings.TrimPrefix(l, "$ ")
		}
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		cmd, comment := l, ""
		if i := strings.Index(l, " #"); i >= 0 {
			cmd, comment = strings.TrimSpace(l[:i]), l[i+2:]
		}
		if why, ok := skip[cmd]; ok {
			sh.t.Logf("not run: %s (%s)", cmd, why)
			outs = append(outs, "")
			continue
		}
		line := sh.substitute(cmd)
		if p := sh.startIfLong(cmd, line); p != nil {
			outs = append(outs, p.out.String())
			continue
		}
		times := 1
		if strings.TrimSpace(comment) == "three times" {
			times = 3
		}
		var out string
		for range times {
			out += sh.script(line)
		}
		outs = append(outs, out)
	}
	return outs
}

func (sh *docShell) startIfLong(cmd, line string) *docProc {
	for _, lr := range longRunning {
		if !strings.HasPrefix(cmd, lr.prefix) {
			continue
		}
		p := startDocProc(sh.t, sh, line, lr.ready)
		sh.procs[lr.prefix] = p
		if lr.prefix == "backupflow emulator" {
			// Paste the block it prints, as the user does.
			var b strings.Builder
			for _, l := range strings.Split(p.out.String(), "\n") {
				if strings.HasPrefix(l, "export ") {
					b.WriteString(l + "\n")
				}
			}
			sh.paste = b.String()
		}
		return p
	}
	return nil
}

// stopAll stops what the group left running as Ctrl-C does.
func (sh *docShell) stopAll() {
	for name, p := range sh.procs {
		p.stop(sh.t)
		delete(sh.procs, name)
	}
}

// docProc is a command left running in its own process group, as a
// terminal's foreground job is.
type docProc struct {
	line string
	cmd  *exec.Cmd
	out  syncBuffer
	done chan struct{}
}

func startDocProc(t *testing.T, sh *docShell, line, ready string) *docProc {
	t.Helper()
	p := &docProc{line: line, done: make(chan struct{})}
	p.cmd = exec.Command("bash", "-c", sh.paste+"exec "+line)
	p.cmd.Dir, p.cmd.Env = sh.dir, sh.env
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	end := time.Now().Add(60 * time.Second)
	for !strings.Contains(p.out.String(), ready) {
		select {
		case <-p.done:
			t.Fatalf("%s ended before it was ready:\n%s", line, &p.out)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(end) {
			t.Fatalf("%s printed no %q in a minute:\n%s", line, ready, &p.out)
		}
	}
	return p
}

// waitOutput waits until the running command has printed a match of re.
func (p *docProc) waitOutput(t *testing.T, re *regexp.Regexp, d time.Duration) {
	t.Helper()
	end := time.Now().Add(d)
	for !re.MatchString(p.out.String()) {
		if time.Now().After(end) {
			t.Fatalf("%s printed no %q in %s:\n%s", p.line, re, d, &p.out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop sends SIGINT to the process group, as Ctrl-C does, and checks the
// program ended cleanly. make itself dies of the signal, as GNU make does
// on any Ctrl-C; it reports a program that did not exit 0 ("make: ***
// [run] Error N" or "Interrupt"), so its silence is the check.
func (p *docProc) stop(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Errorf("interrupt %s: %v", p.line, err)
	}
	select {
	case <-p.done:
	case <-time.After(40 * time.Second):
		p.kill()
		t.Errorf("%s did not stop in 40 s after SIGINT:\n%s", p.line, &p.out)
		return
	}
	st := p.cmd.ProcessState
	if strings.HasPrefix(p.line, "make ") {
		ws, _ := st.Sys().(syscall.WaitStatus)
		if !(st.ExitCode() == 0 || ws.Signaled() && ws.Signal() == syscall.SIGINT) || strings.Contains(p.out.String(), "make: ***") {
			t.Errorf("%s after SIGINT: %v\n%s", p.line, st, &p.out)
		}
		return
	}
	if st.ExitCode() != ExitOK {
		t.Errorf("%s after SIGINT: exit %d, want %d\n%s", p.line, st.ExitCode(), ExitOK, &p.out)
	}
}

func (p *docProc) kill() {
	select {
	case <-p.done:
	default:
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

func wantOutput(t *testing.T, what, out string, res ...string) {
	t.Helper()
	for _, re := range res {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("%s printed no %q:\n%s", what, re, out)
		}
	}
}

// README's quick start: the demo passes, `make run` starts the stack the
// local.md blocks use. `make test` is the suite this test is part of.
func stepQuickstart(t *testing.T, sh *docShell, block string) {
	outs := sh.lines(block, false, map[string]string{"make test": "the whole suite, this test among it"})
	if len(outs) != 3 {
		t.Fatalf("the quick start has %d commands; the step knows make demo, make run, make test:\n%s", len(outs), block)
	}
	wantOutput(t, "make demo", outs[0], `DEMO PASSED`)
	if sh.procs["make run"] == nil {
		t.Fatalf("the quick start started no make run:\n%s", block)
	}
}

func stepTrigger(t *testing.T, sh *docShell, block string) {
	outs := sh.lines(block, false, nil)
	wantOutput(t, "local trigger nightly", strings.Join(outs, ""), `nightly fired: 9 queued, 3 skipped \(run nightly-\d{8}T\d{4}Z\)`)
	sh.procs["make run"].waitOutput(t, regexp.MustCompile(`backup/timer\s+cdb-c1nl9rpv\s+succeeded`), 40*time.Second)
}

func stepDrop(t *testing.T, sh *docShell, block string) {
	sh.lines(block, false, nil)
	sh.procs["make run"].waitOutput(t, regexp.MustCompile(`import/cos\s+mssql-rdc0gajn\s+succeeded`), 40*time.Second)
}

// The curl block sets variables one line uses the next: one script.
func stepChat(t *testing.T, sh *docShell, block string) {
	out := sh.script(sh.substitute(block))
	wantOutput(t, "the signed Slack command", out, `Backup of cdb-c1nl9rpv queued as job slack-`)
	sh.procs["make run"].waitOutput(t, regexp.MustCompile(`\[slack\] ✅ Backup of cdb-c1nl9rpv succeeded`), 40*time.Second)
}

func stepStatus(t *testing.T, sh *docShell, block string) {
	out := strings.Join(sh.lines(block, true, nil), "")
	wantOutput(t, "status --instance", out,
		`^ledger cos://backups-1250000000/backupflow-ledger \(the local stack's, in \S+/\.backupflow; BACKUPFLOW_LEDGER is unset\)\n`,
		`Job j\S+ \(backup cdb-c1nl9rpv\): succeeded after \d+s\n  created \S+Z, finished \S+Z`,
		`wrote report.html: run nightly-\d{8}T\d{4}Z, 9 jobs\n`)
}

func stepInvoke(t *testing.T, sh *docShell, block string) {
	// Each sample's expected outcome is success (events/outcomes.json):
	// script fails the test on a non-zero exit.
	sh.lines(block, false, nil)
}

// jobPrinted is the job a backup or import printed as queued.
func jobPrinted(t *testing.T, out string) string {
	t.Helper()
	m := queuedLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no job id in:\n%s", out)
	}
	return m[1]
}

// The operator recipe: the emulator, its export block, backup --wait, and
// status of the job printed above.
func stepRecipe(t *testing.T, sh *docShell, block string) {
	const placeholder = "<job id printed above>"
	var before, after []string
	seen := false
	for _, l := range strings.Split(block, "\n") {
		if strings.Contains(l, placeholder) {
			seen = true
		}
		if seen {
			after = append(after, l)
		} else {
			before = append(before, l)
		}
	}
	if !seen {
		t.Fatalf("the recipe names no %q:\n%s", placeholder, block)
	}
	outs := sh.lines(strings.Join(before, "\n"), false, nil)
	last := outs[len(outs)-1]
	wantOutput(t, "backup --wait", last, `job \S+: succeeded`)
	id := jobPrinted(t, last)
	out := strings.Join(sh.lines(strings.ReplaceAll(strings.Join(after, "\n"), placeholder, id), false, nil), "")
	wantOutput(t, "status", out, `Job `+id+` \(backup cdb-c1nl9rpv\): succeeded`)
}

func stepImport(t *testing.T, sh *docShell, block string) {
	// "To import a local file": the user has one.
	if err := os.WriteFile(filepath.Join(sh.dir, "orders.bak"), append([]byte("TAPE"), make([]byte, 4096)...), 0o644); err != nil {
		t.Fatal(err)
	}
	outs := sh.lines(block, false, nil)
	last := outs[len(outs)-1]
	wantOutput(t, "import --wait", last, `job \S+: succeeded`)
	sh.jobs["import"] = jobPrinted(t, last)
}

// The rerun's job id is an example: it stands for the import just made.
func stepRerun(t *testing.T, sh *docShell, block string) {
	ids := regexp.MustCompile(`--rerun (j[a-z0-9]{19})\b`).FindStringSubmatch(block)
	if ids == nil || sh.jobs["import"] == "" {
		t.Fatalf("no example job id in %q, or no import before it", block)
	}
	out := strings.Join(sh.lines(strings.ReplaceAll(block, ids[1], sh.jobs["import"]), false, nil), "")
	wantOutput(t, "import --rerun --wait", out, `job \S+: import mssql-rdc0gajn queued`, `job \S+: succeeded`)
}

// Three backups, then the dry run: keep the newest, the two older ones
// would go.
func stepRetention(t *testing.T, sh *docShell, block string) {
	outs := sh.lines(block, false, nil)
	if n := strings.Count(strings.Join(outs, ""), ": succeeded"); n != 3 {
		t.Errorf("%d backups succeeded; the block says three times:\n%s", n, strings.Join(outs, ""))
	}
	out := outs[len(outs)-1]
	if strings.Count(out, "\n  delete  ") != 2 || strings.Count(out, "\n  keep  ") != 1 {
		t.Errorf("the dry run after three backups:\n%s\nwant 1 kept, 2 to delete", out)
	}
	wantOutput(t, "retention --dry-run", out, `2 backups would be deleted; nothing was deleted`)
}

func stepRetentionPreview(t *testing.T, sh *docShell, block string) {
	out := strings.Join(sh.lines(block, false, nil), "")
	wantOutput(t, "retention --dry-run", out, `cdb-c1nl9rpv \(rule keep-last-1\): \d+ backups listed, \d+ made by backupflow, \d+ to delete`,
		`dry run: \d+ backups would be deleted; nothing was deleted`)
}

// The dead-letter examples' job ids, which the steps replace with the ones
// this run made.
const (
	docDeadJob   = "j2olmv2ygbbhtq7ku7wg"
	docReplayJob = "jn4bq7iromze474qz6np"
)

// setupDeadLetter makes what the dead blocks read: an emulator whose
// cdb-c1nl9rpv stays busy, the deployed queue names (as serverless.yml
// sets them) pasted after its export block, and a backup whose create
// kept failing past a short retry budget.
func setupDeadLetter(t *testing.T, sh *docShell) {
	fleet := filepath.Join(sh.scratch, "busy.json")
	if err := os.WriteFile(fleet, []byte(`{"buckets":[{"name":"backups-1250000000","region":"ap-guangzhou"}],
		"instances":[{"product":"mysql","id":"cdb-c1nl9rpv","busy":true}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	sh.startIfLong("backupflow emulator", sh.substitute("backupflow emulator")+" --fixtures "+fleet)
	for _, q := range []string{"WORK", "POLL", "DEAD"} {
		sh.paste += fmt.Sprintf("export BACKUPFLOW_%s_QUEUE='cmq://backupflow-%s?region=ap-guangzhou'\n", q, strings.ToLower(q))
	}
	out, err := sh.bash("BACKUPFLOW_RETRY_BUDGET=2s backupflow backup --instance cdb-c1nl9rpv --wait")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != ExitFailed || !strings.Contains(out, "dead-lettered") {
		t.Fatalf("a backup of a busy instance with a 2s retry budget: %v, want exit %d, dead-lettered:\n%s", err, ExitFailed, out)
	}
	sh.jobs["dead"] = jobPrinted(t, out)
}

// docTranscript splits a console block into its commands and the output
// shown under each.
func docTranscript(block string) (cmds []string, outs [][]string) {
	for _, l := range strings.Split(strings.TrimRight(block, "\n"), "\n") {
		if c, ok := strings.CutPrefix(l, "$ "); ok {
			cmds, outs = append(cmds, c), append(outs, nil)
		} else if len(outs) > 0 {
			outs[len(outs)-1] = append(outs[len(outs)-1], l)
		}
	}
	return cmds, outs
}

func stepDeadList(t *testing.T, sh *docShell, block string) {
	_, want := docTranscript(block)
	out := withoutLogs(strings.Join(sh.lines(strings.ReplaceAll(block, docDeadJob, sh.jobs["dead"]), true, nil), ""))
	if len(want) != 1 || len(want[0]) != 2 {
		t.Fatalf("the dead list block shows %q; the step knows a header and one row", want)
	}
	got := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(got) != 2 || got[0] != want[0][0] {
		t.Fatalf("dead list printed:\n%s\nwant the header %q and one row", out, want[0][0])
	}
	// The row, to the reason's start: id, what, a time, tries, state.
	row := regexp.MustCompile(`^(\S+)  backup cdb-c1nl9rpv  \S+Z  +\d+ +waiting  still failing after `)
	if m := row.FindStringSubmatch(want[0][1]); m == nil || m[1] != docDeadJob {
		t.Fatalf("the step's row pattern does not fit the docs' row %q", want[0][1])
	}
	if m := row.FindStringSubmatch(got[1]); m == nil || m[1] != sh.jobs["dead"] {
		t.Errorf("dead list row %q; want one like the docs' %q for job %s", got[1], want[0][1], sh.jobs["dead"])
	}
}

// The replay lines are the docs' with this run's ids; the status line
// names the replayed job (the docs' says how the deployed system ended it).
func stepDeadReplay(t *testing.T, sh *docShell, block string) {
	cmds, want := docTranscript(block)
	dead := sh.jobs["dead"]
	first := sh.lines("$ "+strings.ReplaceAll(cmds[0], docDeadJob, dead), true, nil)[0]
	m := regexp.MustCompile(`replayed as job (\S+) `).FindStringSubmatch(first)
	if m == nil {
		t.Fatalf("dead replay printed %q; want the new job", first)
	}
	ids := strings.NewReplacer(docDeadJob, dead, docReplayJob, m[1])
	for i, c := range cmds {
		out := first
		if i > 0 {
			out = sh.lines("$ "+ids.Replace(c), true, nil)[0]
		}
		got := withoutLogs(out)
		wantOut := ids.Replace(strings.Join(want[i], "\n")) + "\n"
		if strings.HasPrefix(c, "backupflow status ") {
			// The ledger's name and how the job ended are the deployed
			// system's; the shape is the same.
			ledger := regexp.MustCompile(`(?m)^ledger \S+ \(BACKUPFLOW_LEDGER\)\n`)
			if !ledger.MatchString(wantOut) || !ledger.MatchString(got) {
				t.Errorf("$ %s printed:\n%s\nwant a first line like the docs' %q", ids.Replace(c), got, wantOut)
			}
			got, wantOut = ledger.ReplaceAllString(got, ""), ledger.ReplaceAllString(wantOut, "")
			wantOut, _, _ = strings.Cut(wantOut, "): ")
		}
		if !strings.HasPrefix(got, wantOut) {
			t.Errorf("$ %s printed:\n%s\nwant, as the docs show:\n%s", ids.Replace(c), got, wantOut)
		}
	}
}

// withoutLogs drops the log lines (stderr, slog's text form) from what a
// command printed: the docs' transcripts show what the command says.
func withoutLogs(out string) string {
	var keep []string
	for _, l := range strings.SplitAfter(out, "\n") {
		if !strings.HasPrefix(l, "time=") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "")
}

func stepDeadDrop(t *testing.T, sh *docShell, block string) {
	_, want := docTranscript(block)
	out := withoutLogs(strings.Join(sh.lines(strings.ReplaceAll(block, docDeadJob, sh.jobs["dead"]), true, nil), ""))
	if w := strings.ReplaceAll(strings.Join(want[0], "\n"), docDeadJob, sh.jobs["dead"]) + "\n"; out != w {
		t.Errorf("dead drop printed %q; want %q", out, w)
	}
}
