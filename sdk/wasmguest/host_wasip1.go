//go:build wasip1

package wasmguest

import (
	"runtime"
	"unsafe"

	"github.com/fieldsync/fieldsync/sdk"
	"github.com/fieldsync/fieldsync/sdk/wasmabi"
)

// The module's side of the ABI (abi.md): exports the host calls, imports the
// guest calls. Pointers are offsets into linear memory; Go's garbage
// collector does not move objects, so a buffer's address is stable for as
// long as something references it.

// live holds every buffer the host knows the address of (from
// fieldsync_alloc or a call's result) until fieldsync_free or
// fieldsync_call releases it. Without it the garbage collector could reuse a
// buffer's memory while the host still writes or reads it.
var live = map[uint32][]byte{}

// keep registers b (which must not be empty) and returns its address.
func keep(b []byte) uint32 {
	p := uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
	live[p] = b
	return p
}

//go:wasmexport fieldsync_abi
func exportABI() uint32 {
	defer runtime.Gosched()
	return wasmabi.Version
}

//go:wasmexport fieldsync_alloc
func exportAlloc(size uint32) uint32 {
	defer runtime.Gosched()
	return keep(make([]byte, max(size, 1)))
}

//go:wasmexport fieldsync_free
func exportFree(ptr uint32) {
	defer runtime.Gosched()
	delete(live, ptr)
}

//go:wasmexport fieldsync_call
func exportCall(method, ptr, n uint32) uint64 {
	// The yield lets the garbage collector's goroutines run between calls;
	// without it a reactor's memory grows without bound (see doc.go).
	defer runtime.Gosched()
	defer endCall() // the host closes a body left open when the call ends
	req, ok := live[ptr]
	delete(live, ptr) // the call owns the request buffer now
	var out []byte
	if !ok || uint64(n) > uint64(len(req)) {
		out = failure(sdk.Errorf(sdk.Permanent, "%s: the host passed %d bytes at %#x, which is not a buffer from %s", wasmabi.Method(method), n, ptr, wasmabi.ExportAlloc))
	} else {
		out = guest.call(wasmabi.Method(method), req[:n], theHost)
	}
	if cap(out) == 0 {
		out = make([]byte, 0, 1) // an empty result still needs an address
	}
	return uint64(keep(out[:cap(out)]))<<32 | uint64(len(out))
}

//go:wasmimport fieldsync emit
func hostEmit(ptr unsafe.Pointer, n uint32) uint32

//go:wasmimport fieldsync log
func hostLog(ptr unsafe.Pointer, n uint32)

//go:wasmimport fieldsync http
func hostHTTP(ptr unsafe.Pointer, n uint32) uint32

//go:wasmimport fieldsync take
func hostTake(ptr unsafe.Pointer, n uint32) uint32

//go:wasmimport fieldsync http_open
func hostHTTPOpen(ptr unsafe.Pointer, n uint32) int32

//go:wasmimport fieldsync http_read
func hostHTTPRead(ptr unsafe.Pointer, n uint32) int32

//go:wasmimport fieldsync http_close
func hostHTTPClose()

func rawHTTPOpen(req []byte) int32 {
	return hostHTTPOpen(unsafe.Pointer(unsafe.SliceData(req)), uint32(len(req)))
}

func rawHTTPRead(buf []byte) int32 {
	return hostHTTPRead(unsafe.Pointer(unsafe.SliceData(buf)), uint32(len(buf)))
}

func rawHTTPClose() { hostHTTPClose() }

// rawTake fetches the n bytes the host left for take.
func rawTake(n int) []byte {
	buf := make([]byte, n)
	got := hostTake(unsafe.Pointer(unsafe.SliceData(buf)), uint32(n))
	return buf[:min(int(got), n)]
}

// theHost is backed by the module's imports.
var theHost host = wasiHost{}

type wasiHost struct{}

func (wasiHost) emit(msg []byte) bool {
	return hostEmit(unsafe.Pointer(unsafe.SliceData(msg)), uint32(len(msg))) == wasmabi.EmitContinue
}

func (wasiHost) log(rec []byte) {
	hostLog(unsafe.Pointer(unsafe.SliceData(rec)), uint32(len(rec)))
}

// http asks the host to make the request, then fetches the answer with
// take into a buffer of the size the host announced: the host never calls
// back into the guest (to allocate) while the guest is calling it.
func (wasiHost) http(req []byte) []byte {
	n := hostHTTP(unsafe.Pointer(unsafe.SliceData(req)), uint32(len(req)))
	if n == 0 {
		return nil
	}
	buf := make([]byte, n)
	got := hostTake(unsafe.Pointer(unsafe.SliceData(buf)), n)
	return buf[:min(got, n)]
}
