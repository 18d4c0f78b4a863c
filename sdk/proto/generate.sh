#!/usr/bin/env bash
# Regenerates the Go code for the plugin protocol. The generated files are
# committed, so users need no protoc; run this after editing a .proto file.
# Needs: protoc (Debian: protobuf-compiler), and
#   go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
#   go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1
set -euo pipefail
cd "$(dirname "$0")"
PATH="$(go env GOPATH)/bin:$PATH"
protoc -I . \
  --go_out=.. --go_opt=module=github.com/fieldsync/fieldsync/sdk \
  --go-grpc_out=.. --go-grpc_opt=module=github.com/fieldsync/fieldsync/sdk \
  fieldsync/plugin/v1/plugin.proto
# The service stubs import gRPC, which a WASM guest neither needs nor can
# afford (it triples the .wasm and its load time): keep them out of wasip1
# builds, which use the messages alone.
sed -i '1i //go:build !wasip1\n' pluginv1/plugin_grpc.pb.go
