package emulator

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Service protection (Microsoft: "Service protection API limits"): per
// user, a sliding window of requests and of combined execution time, and a
// cap on concurrent requests. A $batch counts as one request (its
// execution time counts whole). Beyond a limit the answer is 429 with
// Retry-After in seconds and the documented error code and message.

type limiter struct {
	l     Limits
	mu    sync.Mutex
	users map[string]*userLoad
}

type userLoad struct {
	starts     []time.Time // request starts within the window, oldest first
	execs      []execSpan  // finished requests' execution time, oldest first
	execTotal  time.Duration
	concurrent int
}

type execSpan struct {
	end time.Time
	d   time.Duration
}

func newLimiter(l Limits) *limiter { return &limiter{l: l, users: map[string]*userLoad{}} }

func (u *userLoad) prune(now time.Time, window time.Duration) {
	i := 0
	for i < len(u.starts) && now.Sub(u.starts[i]) >= window {
		i++
	}
	u.starts = u.starts[i:]
	j := 0
	for j < len(u.execs) && now.Sub(u.execs[j].end) >= window {
		u.execTotal -= u.execs[j].d
		j++
	}
	u.execs = u.execs[j:]
}

func retryAfter(d time.Duration) http.Header {
	secs := int(math.Ceil(d.Seconds()))
	if secs < 1 {
		secs = 1
	}
	return http.Header{"Retry-After": {strconv.Itoa(secs)}}
}

func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// admit counts a request in, or refuses it with a 429. done must be called
// with the request's execution time when it ends.
func (lm *limiter) admit(user string, now time.Time) (done func(time.Duration), e *apiError) {
	lm.mu.Lock()
	defer lm.mu.Unlock()
	u := lm.users[user]
	if u == nil {
		u = &userLoad{}
		lm.users[user] = u
	}
	w := lm.l.Window
	u.prune(now, w)
	if lm.l.Concurrent > 0 && u.concurrent >= lm.l.Concurrent {
		return nil, &apiError{Status: http.StatusTooManyRequests, Code: codeConcurrent, Header: retryAfter(time.Second),
			Message: fmt.Sprintf("Number of concurrent requests exceeded the limit of %d.", lm.l.Concurrent)}
	}
	if lm.l.Requests > 0 && len(u.starts) >= lm.l.Requests {
		return nil, &apiError{Status: http.StatusTooManyRequests, Code: codeRequests, Header: retryAfter(u.starts[0].Add(w).Sub(now)),
			Message: fmt.Sprintf("Number of requests exceeded the limit of %d over time window of %d seconds.", lm.l.Requests, int(w/time.Second))}
	}
	if lm.l.ExecutionTime > 0 && u.execTotal >= lm.l.ExecutionTime {
		// Retry once enough of the oldest execution leaves the window.
		wait := time.Second
		over := u.execTotal - lm.l.ExecutionTime
		for _, x := range u.execs {
			wait = x.end.Add(w).Sub(now)
			over -= x.d
			if over < 0 {
				break
			}
		}
		return nil, &apiError{Status: http.StatusTooManyRequests, Code: codeExecTime, Header: retryAfter(wait),
			Message: fmt.Sprintf("Combined execution time of incoming requests exceeded limit of %s  milliseconds over time window of %d seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later.",
				commas(lm.l.ExecutionTime.Milliseconds()), int(w/time.Second))}
	}
	u.starts = append(u.starts, now)
	u.concurrent++
	return func(d time.Duration) {
		lm.mu.Lock()
		defer lm.mu.Unlock()
		u.concurrent--
		u.execs = append(u.execs, execSpan{end: now.Add(d), d: d})
		u.execTotal += d
	}, nil
}

// headers sets the documented x-ms-ratelimit-* debugging headers.
func (lm *limiter) headers(h http.Header, user string, now time.Time) {
	lm.mu.Lock()
	defer lm.mu.Unlock()
	u := lm.users[user]
	if u == nil {
		return
	}
	if lm.l.Requests > 0 {
		h.Set("x-ms-ratelimit-burst-remaining-xrm-requests", strconv.Itoa(lm.l.Requests-len(u.starts)))
	}
	if lm.l.ExecutionTime > 0 {
		h.Set("x-ms-ratelimit-time-remaining-xrm-requests", strconv.FormatInt((lm.l.ExecutionTime-u.execTotal).Milliseconds(), 10))
	}
}
