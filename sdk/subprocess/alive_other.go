//go:build !unix

package subprocess

// processAlive cannot check another process portably here; the parent pid
// check in watchHost still applies.
func processAlive(int) bool { return true }
