#!/usr/bin/env bash
# Runs every module's checks and tests (core, sdk and each plugin) from the
# go.work workspace. Needs only Go: generated code is committed, and test
# binaries and plugins are built by the tests themselves.
set -euo pipefail
cd "$(dirname "$0")"
pattern=github.com/fieldsync/fieldsync/...
echo "== go vet"
go vet "$pattern"
echo "== go test"
go test -count=1 -timeout 15m "$@" "$pattern"
