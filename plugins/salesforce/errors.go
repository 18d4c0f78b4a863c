package salesforce

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/fieldsync/fieldsync/sdk"
)

// apiError is a failed REST answer. Salesforce sends an array
// [{"message","errorCode","fields"}] (PROTOCOLS.md); OAuth-guarded
// resources may answer {"error","error_description"} instead.
type apiError struct {
	What    string
	Status  int
	Code    string
	Message string
	Fields  []string
}

func (e *apiError) Error() string {
	msg := fmt.Sprintf("salesforce: %s: HTTP %d", e.What, e.Status)
	if e.Code != "" {
		msg += " " + e.Code
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if len(e.Fields) > 0 {
		msg += " (fields " + strings.Join(e.Fields, ", ") + ")"
	}
	return msg
}

// retryable: the same request may succeed later.
func (e *apiError) retryable() bool {
	if e.Code == "REQUEST_LIMIT_EXCEEDED" {
		return false // a day's quota: retrying within this sync cannot help
	}
	switch e.Status {
	case http.StatusTooManyRequests, http.StatusRequestTimeout, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return retryableCode(e.Code)
}

// sdkError classifies the error. REQUEST_LIMIT_EXCEEDED is Retryable so the
// engine keeps every pending change and token and tries again on a later
// sync, with a message saying why.
func (e *apiError) sdkError() *sdk.Error {
	switch {
	case e.Code == "REQUEST_LIMIT_EXCEEDED":
		return &sdk.Error{Kind: sdk.Retryable, Err: e,
			Message: fmt.Sprintf("salesforce: %s: the org's daily API request limit is reached (REQUEST_LIMIT_EXCEEDED); the sync stops and resumes once Salesforce allows requests again: %s", e.What, e.Message)}
	case e.retryable():
		return &sdk.Error{Kind: sdk.Retryable, Message: e.Error(), Err: e}
	}
	return &sdk.Error{Kind: sdk.Permanent, Message: e.Error(), Err: e}
}

// Error codes of a record's write that pass with time (REST API Developer
// Guide, "Status Codes and Error Responses" and the API's StatusCode list).
var retryableCodes = map[string]bool{
	"UNABLE_TO_LOCK_ROW":                true,
	"SERVER_UNAVAILABLE":                true,
	"REQUEST_RUNNING_TOO_LONG":          true,
	"QUERY_TIMEOUT":                     true,
	"TXN_SECURITY_METERING":             true,
	"CONCURRENT_REQUEST_LIMIT":          true, // not "REQUEST_LIMIT_EXCEEDED": that one is the day's quota
	"ALL_OR_NONE_OPERATION_ROLLED_BACK": true,
}

func retryableCode(code string) bool { return retryableCodes[code] }

// sfError is one element of an error array.
type sfError struct {
	Message    string   `json:"message"`
	ErrorCode  string   `json:"errorCode"`
	StatusCode string   `json:"statusCode"` // collections name the code statusCode
	Fields     []string `json:"fields"`
}

func (e sfError) code() string {
	if e.ErrorCode != "" {
		return e.ErrorCode
	}
	return e.StatusCode
}

// parseAPIError reads a failed answer's body; any shape (even none) yields
// an error naming the status.
func parseAPIError(status int, body []byte, what string) *apiError {
	e := &apiError{What: what, Status: status}
	var arr []sfError
	if json.Unmarshal(body, &arr) == nil {
		if len(arr) > 0 {
			e.Code, e.Message, e.Fields = arr[0].code(), firstLine(arr[0].Message), arr[0].Fields
		}
		return e
	}
	var obj struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		ErrorCode   string `json:"errorCode"`
		Message     string `json:"message"`
	}
	if json.Unmarshal(body, &obj) == nil {
		e.Code, e.Message = obj.Error+obj.ErrorCode, firstLine(obj.Description+obj.Message)
		return e
	}
	if s := strings.TrimSpace(string(body)); s != "" && !strings.HasPrefix(s, "<") {
		e.Message = firstLine(s)
	}
	return e
}

// recordError turns a record's error array (a collection result) into the
// sdk error of its ChangeResult.
func recordError(what string, errs []sfError) *sdk.Error {
	if len(errs) == 0 {
		return sdk.Errorf(sdk.Permanent, "salesforce: %s failed without a reason", what)
	}
	parts := make([]string, 0, len(errs))
	kind := sdk.Retryable
	for _, e := range errs {
		p := e.code()
		if e.Message != "" {
			p += ": " + firstLine(e.Message)
		}
		if len(e.Fields) > 0 {
			p += " (fields " + strings.Join(e.Fields, ", ") + ")"
		}
		parts = append(parts, p)
		if !retryableCode(e.code()) {
			kind = sdk.Permanent // one lasting reason makes the change fail for good
		}
	}
	return &sdk.Error{Kind: kind, Message: fmt.Sprintf("salesforce: %s: %s", what, strings.Join(parts, "; "))}
}
