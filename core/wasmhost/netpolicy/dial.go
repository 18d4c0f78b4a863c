package netpolicy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"time"
)

// pinned carries the addresses Do checked for a hop to the transport's dial
// function, in the request's context (net/http keeps the request context's
// values for the dial).
//
// This is the DNS-rebinding defence: the name is resolved once, by Do, and
// the connection goes to one of those addresses. Were the transport to
// resolve the name again, an attacker's DNS server could answer a public
// address to the check and 127.0.0.1 or 169.254.169.254 to the connect.
type pinned struct {
	host     string
	port     int
	addrs    []netip.Addr
	deadline time.Time
}

type pinKey struct{}

// dialPinned is the transport's DialContext. It dials only the checked
// addresses of the host and port the request was checked for, and refuses
// anything else, so that no code path (a retry, a connection opened for
// another request) can connect to an unchecked address.
func (st *state) dialPinned(ctx context.Context, network, addr string) (net.Conn, error) {
	pin, _ := ctx.Value(pinKey{}).(*pinned)
	host, port, err := net.SplitHostPort(addr)
	if err != nil || pin == nil || host != pin.host || port != strconv.Itoa(pin.port) || len(pin.addrs) == 0 {
		return nil, &dialRefusal{reason: fmt.Sprintf("no checked address for %s", addr)}
	}
	// net/http detaches the dial from the request's cancellation (so that a
	// connection can serve a later request); the request's deadline still
	// bounds it.
	if !pin.deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, pin.deadline)
		defer cancel()
	}
	var errs []error
	for _, a := range pin.addrs {
		c, err := st.dialer.DialContext(ctx, network, netip.AddrPortFrom(a, uint16(pin.port)).String())
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// controlDial runs just before every connect, on the address the socket is
// about to reach. It repeats the address check as a second line of defence:
// whatever address reaches the socket, a non-public one is refused unless
// the policy allows it.
func (st *state) controlDial(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &dialRefusal{reason: fmt.Sprintf("refusing to connect to %q, which is not an IP address", address)}
	}
	c := classify(ap.Addr())
	if c.never || (!c.public() && !st.allowPrivate) {
		return &dialRefusal{reason: fmt.Sprintf("refusing to connect to %s, %s %s address%s", ap.Addr(), article(c.what), c.what, st.privateHint(c))}
	}
	return nil
}

// dialRefusal is the dial-time refusal, reported as ErrPrivateAddress.
type dialRefusal struct{ reason string }

func (d *dialRefusal) Error() string { return d.reason }
