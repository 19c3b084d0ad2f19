# backupflow — every task a developer or CI runs. Only Go is required; tools
# are fetched from the Go module proxy at pinned versions.
SHELL := /bin/bash
GO ?= go
FUNCTIONS := create-backup start-migration poll-status chatops
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
GOVULNCHECK := golang.org/x/vuln/cmd/govulncheck@v1.9.0
# Reproducible builds: no VCS stamp, no build id, trimmed paths, stripped.
BUILDFLAGS := -trimpath -buildvcs=false -ldflags="-s -w -buildid="
# The operator CLI is not deployed: it carries its commit for --version.
CLIFLAGS := -trimpath -buildvcs=auto
FUZZTIME ?= 60s

.PHONY: help run demo test test-short lint vet fmt-check build package bench fuzz soak emulator clean cli interop report-browser-test

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

# run and demo start the built CLI, not go run: go run exits 1 when
# interrupted whatever the program returns, so Ctrl-C would read "Error 1".
# ARGS passes flags: make run ARGS="--now --view lines".
run: cli ## run the whole system locally (emulator + all functions), Ctrl-C to stop; ARGS="--now ..." passes flags
	bin/backupflow local $(ARGS)

demo: ## run the scripted local demo; exits non-zero unless every job ends as expected
	$(GO) run ./cmd/backupflow local --demo

test: ## run every test; the SCF build of every package is compile-checked too (the function tests build and drive both binaries)
	$(GO) test -count=1 ./...
	$(GO) vet -tags scf ./...

test-short: ## the quick subset
	$(GO) test -short ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...
	$(GO) vet -tags scf ./...
	$(GO) vet -tags lambda.norpc ./...

lint: fmt-check vet ## gofmt, go vet and staticcheck (default, scf and crashtest builds); govulncheck when vuln.go.dev is reachable
	$(GO) run $(STATICCHECK) ./...
	$(GO) run $(STATICCHECK) -tags scf ./...
	$(GO) run $(STATICCHECK) -tags lambda.norpc ./...
	$(GO) run $(STATICCHECK) -tags crashtest ./pkg/flow/... ./internal/reliability/...
	cd interop && $(GO) run $(STATICCHECK) ./...
	$(GO) vet -tags scf,crashtest ./pkg/flow/... ./internal/reliability/... ./functions/...
	@# govulncheck needs its database at vuln.go.dev; a machine that reaches only
	@# the module proxy says so plainly. Any other failure (a finding) fails lint.
	@out=$$(timeout 120 $(GO) run $(GOVULNCHECK) ./... 2>&1); rc=$$?; \
	if [ $$rc -eq 0 ]; then echo "$$out" | tail -1; \
	elif echo "$$out" | grep -qE 'fetching vulnerabilities|vuln\.go\.dev|no such host|dial tcp|i/o timeout'; then \
	  echo "govulncheck: SKIPPED - its vulnerability database (https://vuln.go.dev) is not reachable from this machine"; \
	else echo "$$out"; exit 1; fi

build: ## build every function for SCF (linux/amd64, main) and Lambda (linux/arm64, bootstrap), and the CLI
	@for f in $(FUNCTIONS); do \
	  CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build $(BUILDFLAGS) -tags scf -o dist/scf/$$f/main ./functions/$$f || exit 1; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(BUILDFLAGS) -tags lambda.norpc -o dist/aws/$$f/bootstrap ./functions/$$f || exit 1; \
	done
	CGO_ENABLED=0 $(GO) build $(CLIFLAGS) -o bin/backupflow ./cmd/backupflow
	@ls -l dist/scf/*/main dist/aws/*/bootstrap

package: build ## one zip per function per platform, binary at the zip root
	$(GO) run ./cmd/backupflow package --dist dist

cli: ## build the operator CLI into bin/
	CGO_ENABLED=0 $(GO) build $(CLIFLAGS) -o bin/backupflow ./cmd/backupflow

bench: ## the fleet simulation, 30 nights of retention, per-function footprint and the real-time windows (SCF drain, Lambda SQS batches), with baselines
	$(GO) run ./cmd/backupflow simulate --instances 10000 --faults 0.1 --duplicates 0.1 --strategies backupflow,oracle,fixed-30s,rescan-10m
	$(GO) run ./cmd/backupflow simulate --retention keep-last=7 --instances 200 --faults 0.1 --duplicates 0.1
	$(GO) run ./cmd/backupflow footprint
	$(GO) test -run '^$$' -bench 'NightlyWindow(RealTime|Lambda)' -benchtime 1x ./internal/reliability/

fuzz: ## run every fuzz target for $(FUZZTIME) each (FUZZTIME=10s for a quick pass); crashers land in testdata/fuzz/
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; done

soak: ## the long fault soak (500 jobs, 20 % faults, 10 % redelivery), the 1,000-job crash soak and the crash tests
	BACKUPFLOW_SOAK=long $(GO) test -count=1 -v -run 'Soak|Crash' -timeout 30m ./internal/reliability/

# The interop suite is its own module (interop/go.mod) so that its clients
# (the Lambda RIE, slack-go, silenceper/wechat, ...) never enter the product's
# go.mod. The test binary runs directly so that its table prints on success too.
interop: ## drive the real binaries with third-party clients (Lambda RIE, slack-go, wechat, AWS SDK); prints one table
	cd interop && $(GO) vet ./... && $(GO) test -c -o ../bin/interop.test . && ../bin/interop.test -test.timeout 10m

emulator: ## serve the cloud emulator on 127.0.0.1:9090
	$(GO) run ./cmd/backupflow emulator --listen 127.0.0.1:9090

clean:
	rm -rf dist bin .backupflow

# AWS SAM (template.yaml, BuildMethod: makefile): `sam build` runs
# build-<LogicalId> with ARTIFACTS_DIR set; each writes bootstrap there with
# the same flags as `make build`.
SAM_BUILD = CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(BUILDFLAGS) -tags lambda.norpc -o $(ARTIFACTS_DIR)/bootstrap
.PHONY: build-CreateBackup build-StartMigration build-PollStatus build-Chatops report-browser-test

build-CreateBackup:
	$(SAM_BUILD) ./functions/create-backup

build-StartMigration:
	$(SAM_BUILD) ./functions/start-migration

build-PollStatus:
	$(SAM_BUILD) ./functions/poll-status

build-Chatops:
	$(SAM_BUILD) ./functions/chatops

# The run report in a real browser: headless Chromium from the Debian
# packages, installed here when missing; the test renders the page a demo
# night's `report --html` wrote, counts its bars against the run's jobs and
# takes the screenshot docs/operations.md shows (docs/report.png).
report-browser-test: ## render a demo night's report in headless Chromium, count its bars, screenshot it to docs/report.png
	@if ! command -v chromium >/dev/null; then \
	  if command -v apt-get >/dev/null && { [ "$$(id -u)" = 0 ] || command -v sudo >/dev/null; }; then \
	    S=$$([ "$$(id -u)" = 0 ] || echo sudo); $$S apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$S apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core; \
	  fi; \
	fi; \
	if ! command -v chromium >/dev/null; then echo "report-browser-test: SKIPPED - chromium is not installed and could not be installed with apt-get"; exit 0; fi; \
	BACKUPFLOW_REPORT_SCREENSHOT=$(CURDIR)/docs/report.png $(GO) test -count=1 -run TestReportAfterADemoNight -v ./internal/cli/ | grep -E '^(---|ok|FAIL|PASS)|bars|SKIPPED|screenshot'; exit $${PIPESTATUS[0]}
