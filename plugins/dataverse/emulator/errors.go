package emulator

import (
	"fmt"
	"net/http"
	"strconv"
)

// Dataverse error codes the emulator answers with. Where Microsoft
// documents the code for a case it is used; where it does not, the choice
// is recorded in CHOICES.md.
const (
	codeNone            = ""           // documented as "" for 412 and If-Match 404 ("Perform conditional operations")
	codeQuery           = "0x80060888" // OData query or URL the service cannot parse (unknown property, bad syntax, unsupported option)
	codePayload         = "0x80048d19" // request body that cannot be read as the entity
	codeNotFound        = "0x80040217" // ObjectDoesNotExist
	codeDuplicate       = "0x80040237" // DuplicateRecord
	codeValidation      = "0x80044331" // a validation error (length)
	codeOptionRange     = "0x8004431a" // choice value outside its option set
	codeExpiredToken    = "0x80044352" // ExpiredVersionStamp
	codeFileTooBig      = "0x80044a02" // unManagedidsattachmentinvalidfilesize
	codeRequests        = "0x80072322" // service protection: number of requests
	codeExecTime        = "0x80072321" // service protection: execution time
	codeConcurrent      = "0x80072326" // service protection: concurrent requests
	codeUnexpected      = "0x80040216" // an unexpected error (injected 503s, store failures)
	codeBatch           = "0x8006088a" // malformed $batch body (emulator's choice)
	codeNotSupported    = "0x8006088b" // option the emulator does not implement (emulator's choice)
	codeInvalidArgument = "0x80040203" // InvalidArgument (bad action parameters)
)

// apiError is an error the Web API answers with its JSON body
// {"error":{"code":"…","message":"…"}}.
type apiError struct {
	Status  int
	Code    string
	Message string
	Header  http.Header // extra headers (Retry-After)
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}

func badRequest(code, msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: code, Message: msg}
}

func notFound(e *Entity, id string) *apiError {
	return &apiError{Status: http.StatusNotFound, Code: codeNotFound,
		Message: fmt.Sprintf("%s With Id = %s Does Not Exist", e.Name, id)}
}

func segmentNotFound(seg string) *apiError {
	return &apiError{Status: http.StatusNotFound, Code: codeQuery,
		Message: fmt.Sprintf("Resource not found for the segment '%s'.", seg)}
}

func methodNotAllowed(method, path string) *apiError {
	return &apiError{Status: http.StatusMethodNotAllowed, Code: codeQuery,
		Message: fmt.Sprintf("The HTTP method '%s' is not allowed for '%s'.", method, path)}
}

// errVersionMismatch is the documented If-Match failure.
func errVersionMismatch() *apiError {
	return &apiError{Status: http.StatusPreconditionFailed, Code: codeNone,
		Message: "The version of the existing record doesn't match the RowVersion property provided."}
}

// errExists is the documented If-None-Match: * failure.
func errExists(code string) *apiError {
	return &apiError{Status: http.StatusPreconditionFailed, Code: code,
		Message: "A record with matching key values already exists."}
}

func internalError(err error) *apiError {
	return &apiError{Status: http.StatusInternalServerError, Code: codeUnexpected,
		Message: "An unexpected error occurred: " + err.Error()}
}

// writeError writes e as the Web API's error response.
func writeError(w http.ResponseWriter, e *apiError) {
	h := w.Header()
	for k, v := range e.Header {
		h[k] = v
	}
	h.Set("Content-Type", "application/json; odata.metadata=minimal")
	h.Set("OData-Version", "4.0")
	body := errorBody(e.Code, e.Message)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.Status)
	w.Write(body)
}

func errorBody(code, msg string) []byte {
	b := []byte(`{"error":{"code":`)
	b = appendJSONString(b, code)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, msg)
	return append(b, "}}"...)
}
