package subprocess

import (
	"os"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"
)

// hostPollInterval is how often a plugin checks that its host still lives.
const hostPollInterval = 250 * time.Millisecond

// watchHost calls gone when the host process has died. go-plugin stops a
// plugin whose host closes the connection cleanly, but a host killed with
// SIGKILL leaves its plugins running; so the plugin watches for itself. The
// parent pid changing (the plugin was re-parented to init or a subreaper) is
// the portable signal; the host's pid, passed in the environment, covers a
// plugin started through a wrapper. Stops when done is closed.
func watchHost(logger hclog.Logger, done <-chan struct{}, gone func()) {
	parent := os.Getppid()
	host, _ := strconv.Atoi(os.Getenv(envHostPID))
	t := time.NewTicker(hostPollInterval)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		if os.Getppid() != parent || (host > 0 && !processAlive(host)) {
			logger.Warn("host process is gone; plugin exits", "host_pid", host, "parent_pid", parent)
			gone()
			return
		}
	}
}
