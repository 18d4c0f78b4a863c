//go:build !wasip1

package wasmguest

import (
	"google.golang.org/protobuf/proto"

	"github.com/fieldsync/fieldsync/sdk/wasmabi"

	pb "github.com/fieldsync/fieldsync/sdk/proto/pluginv1"
)

// theHost outside a wasip1 build: there is no host to talk to. Logs are
// dropped, streams stop at once and HTTP requests fail, so code that uses
// this package by mistake outside WASM fails visibly instead of hanging.
var theHost host = noHost{}

type noHost struct{}

func (noHost) emit([]byte) bool { return false }
func (noHost) log([]byte)       {}
func (noHost) http([]byte) []byte {
	b, _ := proto.Marshal(&pb.HttpResponse{Error: "wasmguest: not running in a fieldsync WASM host"})
	return b
}

// Outside wasip1 there is no stream: HostHTTPOpen says so, and callers fall
// back to HostHTTP, which refuses.
func rawHTTPOpen([]byte) int32 { return wasmabi.HTTPOpenUnsupported }
func rawHTTPRead([]byte) int32 { return 0 }
func rawHTTPClose()            {}
func rawTake(int) []byte       { return nil }
