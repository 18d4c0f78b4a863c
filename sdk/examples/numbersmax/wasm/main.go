//go:build wasip1

// Command wasm builds the numbers-max policy as a WASM module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o numbers-max.wasm ./sdk/examples/numbersmax/wasm
//
// and a config selects it per entity:
//
//	policy "numbers-max" { module = "numbers-max.wasm" }
//	entity "opportunity" { conflict = "numbers-max" }
package main

import (
	"github.com/fieldsync/fieldsync/sdk/examples/numbersmax"
	"github.com/fieldsync/fieldsync/sdk/wasmguest"
)

func init() {
	wasmguest.ServePolicy(numbersmax.Policy{StatusField: "statecode", Precedence: []string{"Won", "Lost", "Open"}})
}

// main is not run in a reactor module; the policy registers in init.
func main() {}
