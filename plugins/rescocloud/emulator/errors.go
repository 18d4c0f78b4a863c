package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// Error codes of the error body.
const (
	codeUnauthorized    = "Unauthorized"
	codeForbidden       = "Forbidden"
	codeNotFound        = "NotFound"
	codeBadRequest      = "BadRequest"
	codeInvalidFetchXml = "InvalidFetchXml"
	codeUnknownEntity   = "UnknownEntity"
	codeUnknownAttr     = "UnknownAttribute"
	codeDuplicate       = "DuplicateRecord"
	codeVersionMismatch = "ConcurrencyVersionMismatch"
	codeRecordNotFound  = "RecordNotFound"
	codeTooMany         = "TooManyRequests"
	codeServerError     = "ServerError"
	codeChangesExpired  = "ChangesExpired"
)

// apiError is an error answered as {"error":{"code","message"}}.
type apiError struct {
	status     int
	code       string
	message    string
	retryAfter int // seconds, for 429
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func errf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *apiError {
	return errf(http.StatusBadRequest, codeBadRequest, format, args...)
}

func invalidFetch(format string, args ...any) *apiError {
	return errf(http.StatusBadRequest, codeInvalidFetchXml, format, args...)
}

// recordError is the per-record error of the *Multiple results.
type recordError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type errorBody struct {
	Error recordError `json:"error"`
}

const contentJSON = "application/json; charset=utf-8"

// writeError answers err; anything but an *apiError is a 500 ServerError
// whose detail goes to the log, not to the client.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		ae = errf(http.StatusInternalServerError, codeServerError, "The server failed to process the request.")
	}
	h := w.Header()
	h.Set("Content-Type", contentJSON)
	if ae.status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Basic realm="Resco Cloud"`)
	}
	if ae.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(ae.retryAfter))
	}
	w.WriteHeader(ae.status)
	b, _ := json.Marshal(errorBody{Error: recordError{Code: ae.code, Message: ae.message}})
	w.Write(append(b, '\n'))
}

// writeJSON answers v with 200.
func writeJSON(w http.ResponseWriter, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	w.Header().Set("Content-Type", contentJSON)
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(buf.Bytes())
	return err
}
