// Package wire holds every JSON shape the Resco Cloud connector sends to and
// reads from the REST data service ({base}/rest/v1/data/), and the OAuth
// token endpoint, in this one file.
//
// Resco publishes the method list of the data service (WhoAmI,
// GetMaxRowVersion, Fetch with FetchXML, Create/Update/DeleteMultiple,
// metadata; see PROTOCOLS.md, "Resco Cloud") but no JSON shapes. The shapes
// here are our reading of that public method list: where the real service
// differs, this file is the one place to change.
//
// Decoding is strict. Every decoder reads at most a bounded number of bytes,
// rejects unknown fields (a misspelt "RowVersion" must not read as version
// 0), rejects trailing data, and checks what the connector relies on (ids
// present, versions positive, counts bounded), so a bad server answer is a
// clear error, never a panic or a silently wrong row.
package wire

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/fieldsync/fieldsync/sdk/jsonscan"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Size limits of what a decoder reads. A response larger than its limit is
// refused rather than buffered.
const (
	// MaxErrorBytes bounds an error body.
	MaxErrorBytes = 64 << 10
	// MaxSmallBytes bounds WhoAmI, GetMaxRowVersion, token and
	// RetrieveChanges answers.
	MaxSmallBytes = 8 << 20
	// MaxMetadataBytes bounds the metadata document.
	MaxMetadataBytes = 64 << 20
	// MaxFetchBytes bounds one Fetch page (5000 rows, or a few rows with
	// document bodies).
	MaxFetchBytes = 256 << 20
	// MaxWriteResultBytes bounds the answer to a *Multiple call.
	MaxWriteResultBytes = 16 << 20

	// MaxBatch is the most records a *Multiple call carries.
	MaxBatch = 1000
	// MaxEntitiesPerMaxRowVersion is the most entities one
	// GetMaxRowVersion names.
	MaxEntitiesPerMaxRowVersion = 100
	// MaxFetchCount is the largest FetchXML page (count attribute).
	MaxFetchCount = 5000
	// MaxDocumentBytes is the largest document body an upload carries.
	MaxDocumentBytes = 16 << 20

	maxIDLen     = 128
	maxNameLen   = 256
	maxCookieLen = 64 << 10
	maxAttrs     = 4096
)

// Paths of the data service, relative to {base}/rest/v1/data/.
const (
	PathWhoAmI           = "WhoAmI"
	PathMetadata         = "Metadata"
	PathGetMaxRowVersion = "GetMaxRowVersion"
	PathFetch            = "Fetch"
	PathRetrieveChanges  = "RetrieveChanges"
	PathCreateMultiple   = "CreateMultiple"
	PathUpdateMultiple   = "UpdateMultiple"
	PathDeleteMultiple   = "DeleteMultiple"
	PathBlob             = "Blob" // GET Blob?id=<annotationid>, Range: bytes=N-
	DataPath             = "/rest/v1/data/"
	TokenPath            = "/oauth/token"
)

// Error codes of {"error":{"code","message"}}.
const (
	CodeUnauthorized               = "Unauthorized"
	CodeForbidden                  = "Forbidden"
	CodeNotFound                   = "NotFound"
	CodeBadRequest                 = "BadRequest"
	CodeInvalidFetchXML            = "InvalidFetchXml"
	CodeUnknownEntity              = "UnknownEntity"
	CodeUnknownAttribute           = "UnknownAttribute"
	CodeDuplicateRecord            = "DuplicateRecord"
	CodeConcurrencyVersionMismatch = "ConcurrencyVersionMismatch"
	CodeRecordNotFound             = "RecordNotFound"
	CodeTooManyRequests            = "TooManyRequests"
	CodeChangesExpired             = "ChangesExpired"
	CodeServerError                = "ServerError"
)

// Removal reasons of RetrieveChanges.
const (
	ReasonDeleted      = "Deleted"
	ReasonOwnerChanged = "OwnerChanged"
	ReasonUnshared     = "Unshared"
)

// Attribute types of the metadata document.
const (
	TypeGuid     = "Guid"
	TypeString   = "String"
	TypeMemo     = "Memo"
	TypeInteger  = "Integer"
	TypeBigInt   = "BigInt"
	TypeDecimal  = "Decimal"
	TypeDouble   = "Double"
	TypeMoney    = "Money"
	TypeBoolean  = "Boolean"
	TypeDateTime = "DateTime"
	TypePicklist = "Picklist"
	TypeLookup   = "Lookup"
	TypeBinary   = "Binary"
)

// VersionAttribute is the FetchXML pseudo-attribute holding a row's version.
const VersionAttribute = "versionnumber"

// ---- errors ----------------------------------------------------------------

// ErrorDetail is the inner object of an error body, and the per-record error
// of a *Multiple result.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ErrorBody is every failed response's body: {"error":{"code","message"}}.
type ErrorBody struct {
	Error *ErrorDetail `json:"error"`
}

// DecodeError reads an error body. The caller falls back to the HTTP status
// when it fails.
func DecodeError(r io.Reader) (*ErrorDetail, error) {
	var b ErrorBody
	if err := decode(r, MaxErrorBytes, "error body", &b); err != nil {
		return nil, err
	}
	if b.Error == nil {
		return nil, errors.New("wire: error body: no \"error\" object")
	}
	if err := b.Error.check("error body"); err != nil {
		return nil, err
	}
	return b.Error, nil
}

func (e *ErrorDetail) check(what string) error {
	if e.Code == "" {
		return fmt.Errorf("wire: %s: error without a code", what)
	}
	if len(e.Code) > maxNameLen || len(e.Message) > MaxErrorBytes {
		return fmt.Errorf("wire: %s: error code or message too long", what)
	}
	return nil
}

// ---- OAuth -------------------------------------------------------------------

// TokenResponse is POST {base}/oauth/token's answer.
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

// TokenError is the token endpoint's failure body (OAuth 2.0, RFC 6749 5.2).
type TokenError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// DecodeToken reads a token response. Unknown fields are allowed here: OAuth
// servers add their own (scope, refresh_token).
func DecodeToken(r io.Reader) (*TokenResponse, error) {
	var t TokenResponse
	if err := decodeLax(r, MaxSmallBytes, "token response", &t); err != nil {
		return nil, err
	}
	if t.AccessToken == "" {
		return nil, errors.New("wire: token response: no access_token")
	}
	if !strings.EqualFold(t.TokenType, "Bearer") {
		return nil, fmt.Errorf("wire: token response: token_type %q, want Bearer", clip(t.TokenType))
	}
	if t.ExpiresIn < 0 || t.ExpiresIn > 366*24*3600 {
		return nil, fmt.Errorf("wire: token response: expires_in %d out of range", t.ExpiresIn)
	}
	if len(t.AccessToken) > 64<<10 {
		return nil, errors.New("wire: token response: access_token too long")
	}
	return &t, nil
}

// DecodeTokenError reads a token endpoint failure body.
func DecodeTokenError(r io.Reader) (*TokenError, error) {
	var t TokenError
	if err := decodeLax(r, MaxErrorBytes, "token error", &t); err != nil {
		return nil, err
	}
	if t.Error == "" {
		return nil, errors.New("wire: token error: no \"error\"")
	}
	return &t, nil
}

// ---- WhoAmI ----------------------------------------------------------------

// WhoAmIResponse is GET WhoAmI's answer.
type WhoAmIResponse struct {
	UserId         string   `json:"UserId"`
	BusinessUnitId string   `json:"BusinessUnitId"`
	OrganizationId string   `json:"OrganizationId"`
	TeamIds        []string `json:"TeamIds"`
}

// DecodeWhoAmI reads a WhoAmI answer.
func DecodeWhoAmI(r io.Reader) (*WhoAmIResponse, error) {
	var w WhoAmIResponse
	if err := decode(r, MaxSmallBytes, "WhoAmI", &w); err != nil {
		return nil, err
	}
	if err := checkID(w.UserId); err != nil {
		return nil, fmt.Errorf("wire: WhoAmI: UserId: %w", err)
	}
	for _, id := range append([]string{w.BusinessUnitId, w.OrganizationId}, w.TeamIds...) {
		if id != "" {
			if err := checkID(id); err != nil {
				return nil, fmt.Errorf("wire: WhoAmI: %w", err)
			}
		}
	}
	return &w, nil
}

// ---- Metadata --------------------------------------------------------------

// MetadataResponse is GET Metadata's answer.
type MetadataResponse struct {
	Entities []EntityMetadata `json:"Entities"`
}

// EntityMetadata describes one entity.
type EntityMetadata struct {
	Name           string              `json:"Name"`
	PrimaryKey     string              `json:"PrimaryKey"`
	PrimaryName    string              `json:"PrimaryName"`
	ChangeTracking bool                `json:"ChangeTracking"`
	Attributes     []AttributeMetadata `json:"Attributes"`
}

// AttributeMetadata describes one attribute. Type is one of the Type*
// constants; a type this file does not know is passed on (the connector
// leaves such attributes out of its schema).
type AttributeMetadata struct {
	Name      string   `json:"Name"`
	Type      string   `json:"Type"`
	MaxLength int      `json:"MaxLength"`
	Required  bool     `json:"Required"`
	ReadOnly  bool     `json:"ReadOnly"`
	Targets   []string `json:"Targets"`
	Options   []Option `json:"Options"`
}

// Option is one value of a Picklist.
type Option struct {
	Value int64  `json:"Value"`
	Label string `json:"Label"`
}

// DecodeMetadata reads the metadata document and checks names: present,
// unique per scope, primary keys among the attributes.
func DecodeMetadata(r io.Reader) (*MetadataResponse, error) {
	var m MetadataResponse
	if err := decode(r, MaxMetadataBytes, "Metadata", &m); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for i := range m.Entities {
		e := &m.Entities[i]
		if err := checkName(e.Name); err != nil {
			return nil, fmt.Errorf("wire: Metadata: entity %d: %w", i, err)
		}
		if seen[e.Name] {
			return nil, fmt.Errorf("wire: Metadata: entity %q listed twice", e.Name)
		}
		seen[e.Name] = true
		if err := checkName(e.PrimaryKey); err != nil {
			return nil, fmt.Errorf("wire: Metadata: entity %q: primary key: %w", e.Name, err)
		}
		attrs := map[string]bool{}
		for j := range e.Attributes {
			a := &e.Attributes[j]
			if err := checkName(a.Name); err != nil {
				return nil, fmt.Errorf("wire: Metadata: %s attribute %d: %w", e.Name, j, err)
			}
			if attrs[a.Name] {
				return nil, fmt.Errorf("wire: Metadata: %s.%s listed twice", e.Name, a.Name)
			}
			attrs[a.Name] = true
			if a.Type == "" || len(a.Type) > maxNameLen {
				return nil, fmt.Errorf("wire: Metadata: %s.%s has no type", e.Name, a.Name)
			}
			if a.MaxLength < 0 {
				return nil, fmt.Errorf("wire: Metadata: %s.%s has a negative MaxLength", e.Name, a.Name)
			}
			for _, t := range a.Targets {
				if err := checkName(t); err != nil {
					return nil, fmt.Errorf("wire: Metadata: %s.%s target: %w", e.Name, a.Name, err)
				}
			}
		}
		if len(e.Attributes) > 0 && !attrs[e.PrimaryKey] {
			return nil, fmt.Errorf("wire: Metadata: entity %q: primary key %q is not among its attributes", e.Name, e.PrimaryKey)
		}
	}
	return &m, nil
}

// KnownType reports whether t is an attribute type this file describes.
func KnownType(t string) bool {
	switch t {
	case TypeGuid, TypeString, TypeMemo, TypeInteger, TypeBigInt, TypeDecimal, TypeDouble,
		TypeMoney, TypeBoolean, TypeDateTime, TypePicklist, TypeLookup, TypeBinary:
		return true
	}
	return false
}

// ---- GetMaxRowVersion -------------------------------------------------------

// MaxRowVersionRequest is POST GetMaxRowVersion's body (at most
// MaxEntitiesPerMaxRowVersion entities).
type MaxRowVersionRequest struct {
	Entities []string `json:"Entities"`
}

// MaxRowVersionResponse maps each entity to its highest row version, rows
// and tracked removals both. An entity with no rows yet answers 0.
type MaxRowVersionResponse struct {
	RowVersions map[string]int64 `json:"RowVersions"`
}

// DecodeMaxRowVersion reads a GetMaxRowVersion answer.
func DecodeMaxRowVersion(r io.Reader) (*MaxRowVersionResponse, error) {
	var m MaxRowVersionResponse
	if err := decode(r, MaxSmallBytes, "GetMaxRowVersion", &m); err != nil {
		return nil, err
	}
	if m.RowVersions == nil {
		return nil, errors.New("wire: GetMaxRowVersion: no RowVersions")
	}
	for name, v := range m.RowVersions {
		if v < 0 {
			return nil, fmt.Errorf("wire: GetMaxRowVersion: %q has negative version %d", clip(name), v)
		}
	}
	return &m, nil
}

// ---- Fetch -----------------------------------------------------------------

// FetchRequest is POST Fetch's body.
type FetchRequest struct {
	FetchXml string `json:"FetchXml"`
}

// FetchResponse is one page of a FetchXML query. PagingCookie goes into the
// next page's <fetch paging-cookie> as is.
type FetchResponse struct {
	Entities     []Record `json:"Entities"`
	MoreRecords  bool     `json:"MoreRecords"`
	PagingCookie string   `json:"PagingCookie"`
}

// Record is one row: its id, row version and attribute values. Null
// attributes are omitted; values are decoded with the Decode* functions
// below, by the attribute's type.
type Record struct {
	Id         string                     `json:"Id"`
	RowVersion int64                      `json:"RowVersion"`
	Attributes map[string]json.RawMessage `json:"Attributes"`
}

// DecodeFetch reads one Fetch page.
func DecodeFetch(r io.Reader) (*FetchResponse, error) {
	var f FetchResponse
	if err := decode(r, MaxFetchBytes, "Fetch", &f); err != nil {
		return nil, err
	}
	if f.Entities == nil {
		return nil, errors.New("wire: Fetch: no Entities")
	}
	if len(f.Entities) > MaxFetchCount {
		return nil, fmt.Errorf("wire: Fetch: %d rows in one page, more than %d", len(f.Entities), MaxFetchCount)
	}
	if len(f.PagingCookie) > maxCookieLen {
		return nil, errors.New("wire: Fetch: paging cookie too long")
	}
	if f.MoreRecords && f.PagingCookie == "" {
		return nil, errors.New("wire: Fetch: MoreRecords without a PagingCookie")
	}
	for i := range f.Entities {
		rec := &f.Entities[i]
		if err := checkID(rec.Id); err != nil {
			return nil, fmt.Errorf("wire: Fetch: row %d: Id: %w", i, err)
		}
		if rec.RowVersion <= 0 {
			return nil, fmt.Errorf("wire: Fetch: row %s: RowVersion %d is not positive", rec.Id, rec.RowVersion)
		}
		if len(rec.Attributes) > maxAttrs {
			return nil, fmt.Errorf("wire: Fetch: row %s: %d attributes", rec.Id, len(rec.Attributes))
		}
	}
	return &f, nil
}

// ---- RetrieveChanges ---------------------------------------------------------

// RetrieveChangesRequest is POST RetrieveChanges' body: the removals of an
// entity above a row version, a page of Count at a time.
type RetrieveChangesRequest struct {
	Entity          string `json:"Entity"`
	SinceRowVersion int64  `json:"SinceRowVersion"`
	Count           int    `json:"Count"`
	PagingCookie    string `json:"PagingCookie,omitempty"`
}

// RetrieveChangesResponse lists rows that left the caller's view: deleted,
// given to another owner, or no longer shared. MaxRowVersion is the entity's
// highest row version (rows and removals) when the call was answered.
// 410 ChangesExpired answers a SinceRowVersion older than the service keeps.
type RetrieveChangesResponse struct {
	Removed       []Removed `json:"Removed"`
	MaxRowVersion int64     `json:"MaxRowVersion"`
	MoreRecords   bool      `json:"MoreRecords"`
	PagingCookie  string    `json:"PagingCookie"`
}

// Removed is one removal.
type Removed struct {
	Id         string `json:"Id"`
	RowVersion int64  `json:"RowVersion"`
	Reason     string `json:"Reason"`
}

// DecodeRetrieveChanges reads a RetrieveChanges answer.
func DecodeRetrieveChanges(r io.Reader) (*RetrieveChangesResponse, error) {
	var c RetrieveChangesResponse
	if err := decode(r, MaxSmallBytes, "RetrieveChanges", &c); err != nil {
		return nil, err
	}
	if c.MaxRowVersion < 0 {
		return nil, fmt.Errorf("wire: RetrieveChanges: MaxRowVersion %d is negative", c.MaxRowVersion)
	}
	if len(c.Removed) > MaxFetchCount {
		return nil, fmt.Errorf("wire: RetrieveChanges: %d removals in one page, more than %d", len(c.Removed), MaxFetchCount)
	}
	if len(c.PagingCookie) > maxCookieLen {
		return nil, errors.New("wire: RetrieveChanges: paging cookie too long")
	}
	if c.MoreRecords && c.PagingCookie == "" {
		return nil, errors.New("wire: RetrieveChanges: MoreRecords without a PagingCookie")
	}
	for i, rm := range c.Removed {
		if err := checkID(rm.Id); err != nil {
			return nil, fmt.Errorf("wire: RetrieveChanges: removal %d: Id: %w", i, err)
		}
		if rm.RowVersion <= 0 {
			return nil, fmt.Errorf("wire: RetrieveChanges: removal %s: RowVersion %d is not positive", rm.Id, rm.RowVersion)
		}
		switch rm.Reason {
		case ReasonDeleted, ReasonOwnerChanged, ReasonUnshared:
		default:
			return nil, fmt.Errorf("wire: RetrieveChanges: removal %s: unknown reason %q", rm.Id, clip(rm.Reason))
		}
	}
	return &c, nil
}

// ---- writes ----------------------------------------------------------------

// WriteRequest is the body of CreateMultiple, UpdateMultiple and
// DeleteMultiple (at most MaxBatch records, one entity).
type WriteRequest struct {
	Entity  string        `json:"Entity"`
	Records []WriteRecord `json:"Records"`
}

// WriteRecord is one record of a write. Id is client-assigned on create.
// RequestId is the idempotency key: the service answers a repeated
// RequestId with its first result. RowVersion is the base version of an
// update or delete (nil: unconditional). Attributes are absent on delete.
type WriteRecord struct {
	Id         string                     `json:"Id"`
	RequestId  string                     `json:"RequestId"`
	RowVersion *int64                     `json:"RowVersion,omitempty"`
	Attributes map[string]json.RawMessage `json:"Attributes,omitempty"`
}

// WriteResponse answers a write, one result per record in request order.
type WriteResponse struct {
	Results []WriteResult `json:"Results"`
}

// WriteResult is one record's outcome: its id and new row version, or an
// error (ConcurrencyVersionMismatch, RecordNotFound, DuplicateRecord, ...).
// RowVersion is 0 for a delete.
type WriteResult struct {
	Id         string       `json:"Id"`
	RowVersion int64        `json:"RowVersion"`
	Error      *ErrorDetail `json:"Error"`
}

// DecodeWrite reads a write answer for a request of n records.
func DecodeWrite(r io.Reader, n int) (*WriteResponse, error) {
	var w WriteResponse
	if err := decode(r, MaxWriteResultBytes, "write", &w); err != nil {
		return nil, err
	}
	if len(w.Results) != n {
		return nil, fmt.Errorf("wire: write: %d results for %d records", len(w.Results), n)
	}
	for i := range w.Results {
		res := &w.Results[i]
		if res.Error != nil {
			if err := res.Error.check(fmt.Sprintf("write result %d", i)); err != nil {
				return nil, err
			}
			continue
		}
		if err := checkID(res.Id); err != nil {
			return nil, fmt.Errorf("wire: write: result %d: Id: %w", i, err)
		}
		if res.RowVersion < 0 {
			return nil, fmt.Errorf("wire: write: result %d: RowVersion %d is negative", i, res.RowVersion)
		}
	}
	return &w, nil
}

// ---- attribute values -----------------------------------------------------

// Lookup is a Lookup attribute's value.
type Lookup struct {
	Id          string `json:"Id"`
	LogicalName string `json:"LogicalName"`
}

// DecodeGUID reads a Guid value and returns it in lower case.
func DecodeGUID(raw json.RawMessage) (string, error) {
	s, err := DecodeString(raw)
	if err != nil {
		return "", err
	}
	if !isGUID(s) {
		return "", fmt.Errorf("%q is not a GUID", clip(s))
	}
	return strings.ToLower(s), nil
}

// DecodeString reads a String or Memo value.
func DecodeString(raw json.RawMessage) (string, error) {
	if s, ok := plainString(raw); ok {
		return s, nil
	}
	var s string
	if err := strictUnmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("want a JSON string: %w", err)
	}
	return s, nil
}

// DecodeInt reads an Integer, BigInt or Picklist value: an integral JSON
// number within int64.
func DecodeInt(raw json.RawMessage) (int64, error) {
	n, err := number(raw)
	if err != nil {
		return 0, err
	}
	i, err := strconv.ParseInt(n, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s is not a 64-bit integer", clip(n))
	}
	return i, nil
}

// DecodeDecimal reads a Decimal or Money value exactly: the JSON number's
// text as a plain decimal ("-12.50"), exponents expanded, never through a
// float.
func DecodeDecimal(raw json.RawMessage) (string, error) {
	n, err := number(raw)
	if err != nil {
		return "", err
	}
	return PlainDecimal(n)
}

// PlainDecimal turns a JSON number's text into a plain decimal, expanding
// an exponent exactly.
func PlainDecimal(n string) (string, error) {
	if !strings.ContainsAny(n, "eE") {
		return n, nil
	}
	mant, exps, _ := strings.Cut(strings.ToLower(n), "e")
	exp, err := strconv.Atoi(exps)
	if err != nil || exp > 400 || exp < -400 {
		return "", fmt.Errorf("%s: exponent out of range", clip(n))
	}
	r, ok := new(big.Rat).SetString(mant)
	if !ok {
		return "", fmt.Errorf("%s is not a decimal", clip(n))
	}
	scale := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(exp))), nil))
	if exp >= 0 {
		r.Mul(r, scale)
	} else {
		r.Quo(r, scale)
	}
	places := 0
	if _, frac, ok := strings.Cut(mant, "."); ok {
		places = len(frac)
	}
	places -= exp
	if places < 0 {
		places = 0
	}
	return r.FloatString(places), nil
}

func abs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}

// DecodeFloat reads a Double value.
func DecodeFloat(raw json.RawMessage) (float64, error) {
	n, err := number(raw)
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(n, 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%s is not a 64-bit float", clip(n))
	}
	return f, nil
}

// DecodeBool reads a Boolean value.
func DecodeBool(raw json.RawMessage) (bool, error) {
	switch string(raw) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	var b bool
	if err := strictUnmarshal(raw, &b); err != nil {
		return false, fmt.Errorf("want true or false: %w", err)
	}
	return b, nil
}

// DecodeDateTime reads a DateTime value: RFC 3339, returned in UTC.
func DecodeDateTime(raw json.RawMessage) (time.Time, error) {
	s, err := DecodeString(raw)
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time", clip(s))
	}
	if t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}, fmt.Errorf("%q is out of range", clip(s))
	}
	return t.UTC(), nil
}

// DecodeLookup reads a Lookup value: {"Id","LogicalName"}.
func DecodeLookup(raw json.RawMessage) (Lookup, error) {
	if l, ok := plainLookup(raw); ok {
		return l, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return Lookup{}, fmt.Errorf("want {\"Id\",\"LogicalName\"}: %v", err)
	}
	var l Lookup
	for k, v := range fields {
		var dst *string
		switch k {
		case "Id":
			dst = &l.Id
		case "LogicalName":
			dst = &l.LogicalName
		default:
			return Lookup{}, fmt.Errorf("want {\"Id\",\"LogicalName\"}: unknown field %q", clip(k))
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return Lookup{}, fmt.Errorf("want {\"Id\",\"LogicalName\"}: %s: %w", k, err)
		}
	}
	if !isGUID(l.Id) {
		return Lookup{}, fmt.Errorf("lookup id %q is not a GUID", clip(l.Id))
	}
	l.Id = strings.ToLower(l.Id)
	if l.LogicalName != "" {
		if err := checkName(l.LogicalName); err != nil {
			return Lookup{}, fmt.Errorf("lookup LogicalName: %w", err)
		}
	}
	return l, nil
}

// DecodeBinary reads a Binary value: standard base64 text.
func DecodeBinary(raw json.RawMessage) ([]byte, error) {
	s, err := DecodeString(raw)
	if err != nil {
		return nil, err
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not base64: %w", err)
	}
	return b, nil
}

// Encoders of attribute values for writes.

// EncodeString encodes a String, Memo or Guid value.
func EncodeString(s string) json.RawMessage { b, _ := json.Marshal(s); return b }

// EncodeInt encodes an Integer, BigInt or Picklist value.
func EncodeInt(i int64) json.RawMessage { return json.RawMessage(strconv.FormatInt(i, 10)) }

// EncodeDecimal encodes a plain decimal text as an exact JSON number.
func EncodeDecimal(s string) (json.RawMessage, error) {
	d := strings.TrimPrefix(s, "+")
	body := strings.TrimPrefix(d, "-")
	intPart, frac, dot := strings.Cut(body, ".")
	if intPart == "" || !digits(intPart) || (dot && (frac == "" || !digits(frac))) || len(s) > 100 {
		return nil, fmt.Errorf("%q is not a plain decimal number", clip(s))
	}
	// JSON forbids leading zeros ("007"); trim them, keeping one.
	trimmed := strings.TrimLeft(intPart, "0")
	if trimmed == "" {
		trimmed = "0"
	}
	out := trimmed
	if dot {
		out += "." + frac
	}
	if strings.HasPrefix(d, "-") {
		out = "-" + out
	}
	return json.RawMessage(out), nil
}

// EncodeFloat encodes a Double; NaN and infinities have no JSON form.
func EncodeFloat(f float64) (json.RawMessage, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("%v has no JSON form", f)
	}
	return json.RawMessage(strconv.FormatFloat(f, 'g', -1, 64)), nil
}

// EncodeBool encodes a Boolean.
func EncodeBool(b bool) json.RawMessage { return json.RawMessage(strconv.FormatBool(b)) }

// EncodeDateTime encodes a DateTime as RFC 3339 UTC.
func EncodeDateTime(t time.Time) json.RawMessage {
	return EncodeString(t.UTC().Format(time.RFC3339Nano))
}

// EncodeLookup encodes a Lookup value.
func EncodeLookup(l Lookup) json.RawMessage { b, _ := json.Marshal(l); return b }

// EncodeBinary encodes a Binary value as base64.
func EncodeBinary(b []byte) json.RawMessage {
	return EncodeString(base64.StdEncoding.EncodeToString(b))
}

// Null is the JSON null that clears an attribute on update.
var Null = json.RawMessage("null")

// IsNull reports whether raw is JSON null (a server may send null instead
// of omitting the attribute).
func IsNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// ---- helpers ---------------------------------------------------------------

// decode reads one JSON value of at most limit bytes into v, rejecting
// unknown fields and trailing data.
func decode(r io.Reader, limit int64, what string, v any) error {
	return decodeWith(r, limit, what, v, true)
}

// decodeLax is decode without the unknown-field check.
func decodeLax(r io.Reader, limit int64, what string, v any) error {
	return decodeWith(r, limit, what, v, false)
}

func decodeWith(r io.Reader, limit int64, what string, v any, strict bool) error {
	lr := &limitedReader{r: r, n: limit}
	dec := json.NewDecoder(lr)
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		if lr.over {
			return fmt.Errorf("wire: %s: response larger than %d bytes", what, limit)
		}
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("wire: %s: empty body", what)
		}
		return fmt.Errorf("wire: %s: %w", what, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if lr.over {
			return fmt.Errorf("wire: %s: response larger than %d bytes", what, limit)
		}
		return fmt.Errorf("wire: %s: trailing data after the JSON value", what)
	}
	return nil
}

// limitedReader fails once more than n bytes were asked for, and says so.
type limitedReader struct {
	r    io.Reader
	n    int64
	over bool
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		l.over = true
		return 0, errors.New("response too large")
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// strictUnmarshal decodes one attribute value. json.Unmarshal refuses
// trailing data itself; a Decoder per value (as a first version did) cost
// a fresh read buffer for every cell, 46 KB of garbage a row.
func strictUnmarshal(raw json.RawMessage, v any) error {
	return json.Unmarshal(raw, v)
}

func number(raw json.RawMessage) (string, error) {
	if n, ok := plainNumber(raw); ok {
		return n, nil
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || !(raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return "", fmt.Errorf("want a JSON number: %w", err)
		}
		return "", fmt.Errorf("want a JSON number, got %s", describe(v))
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return "", fmt.Errorf("want a JSON number: %w", err)
	}
	if len(n) > 400 {
		return "", errors.New("number too long")
	}
	return string(n), nil
}

func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// checkID accepts the ids the service hands out: non-empty, bounded,
// printable UTF-8.
func checkID(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	if len(s) > maxIDLen {
		return fmt.Errorf("%d bytes long", len(s))
	}
	if !printable(s) {
		return fmt.Errorf("%q has control characters or is not UTF-8", clip(s))
	}
	return nil
}

func checkName(s string) error {
	if s == "" {
		return errors.New("empty name")
	}
	if len(s) > maxNameLen {
		return fmt.Errorf("name of %d bytes", len(s))
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return fmt.Errorf("name %q has a character other than letters, digits and _", clip(s))
		}
	}
	return nil
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// clip shortens text from the server for an error message.
func clip(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}

// Fast paths for the values a page is made of. Reflection-driven
// decoding costs little natively but dominated the WASM build's download,
// where every call is dear: values in their simplest form are read here
// directly, anything else (escapes, spaces, exotic forms, errors) goes
// through encoding/json as before, so both paths accept and refuse alike.

// plainString reads a JSON string with no escapes and no control
// characters, in valid UTF-8.
func plainString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	body := raw[1 : len(raw)-1]
	for _, c := range body {
		if c < 0x20 || c == '"' || c == '\\' {
			return "", false
		}
	}
	if !utf8.Valid(body) {
		return "", false
	}
	return string(body), true
}

// plainNumber reads a JSON number in its plain form: an optional minus,
// digits without a leading zero, an optional fraction; no exponent.
func plainNumber(raw []byte) (string, bool) {
	i := 0
	if i < len(raw) && raw[i] == '-' {
		i++
	}
	start := i
	for i < len(raw) && raw[i] >= '0' && raw[i] <= '9' {
		i++
	}
	if i == start || (raw[start] == '0' && i-start > 1) {
		return "", false
	}
	if i < len(raw) && raw[i] == '.' {
		i++
		frac := i
		for i < len(raw) && raw[i] >= '0' && raw[i] <= '9' {
			i++
		}
		if i == frac {
			return "", false
		}
	}
	if i != len(raw) || len(raw) > 400 {
		return "", false
	}
	return string(raw), true
}

// ---- Fetch pages, scanned ----------------------------------------------------

// FetchRows is a Fetch page read by DecodeFetchRows: the rows with the
// values of the wanted attributes only, in the order asked for (nil where
// a row omits one), sliced out of the page's bytes without copies.
type FetchRows struct {
	Rows         []FetchRow
	MoreRecords  bool
	PagingCookie string
}

// FetchRow is one row of FetchRows.
type FetchRow struct {
	Id         string
	RowVersion int64
	Values     []json.RawMessage
}

// DecodeFetchRows reads one Fetch page like DecodeFetch, the same shape and
// the same checks, but with a scanner of its own instead of encoding/json's
// reflection and per-byte state machine: the download's hot path. In the
// WASM build encoding/json spent about a microsecond per byte of the page
// (every byte an indirect call, which the wasm port makes dear). Whatever
// this accepts, DecodeFetch accepts with the same rows (FuzzFetchRows).
func DecodeFetchRows(r io.Reader, want []string) (*FetchRows, error) {
	body, err := io.ReadAll(&limitedReader{r: r, n: MaxFetchBytes + 1})
	if err != nil {
		return nil, fmt.Errorf("wire: Fetch: %w", err)
	}
	if int64(len(body)) > MaxFetchBytes {
		return nil, fmt.Errorf("wire: Fetch: response larger than %d bytes", int64(MaxFetchBytes))
	}
	index := make(map[string]int, len(want))
	for i, w := range want {
		index[w] = i
	}
	s := jsonscan.New(body)
	out := &FetchRows{}
	// The rows' values share one growing backing array: an allocation per
	// row is dear in the WASM build.
	var slab []json.RawMessage
	seenEntities := false
	seen := map[string]bool{}
	err = s.Object(func(key []byte) error {
		if seen[string(key)] {
			return fmt.Errorf("field %q twice", clip(string(key)))
		}
		seen[string(key)] = true
		switch string(key) {
		case "Entities":
			seenEntities = true
			if s.Null() {
				seenEntities = false
				return nil
			}
			return s.Array(func() error {
				if len(out.Rows) == MaxFetchCount {
					return fmt.Errorf("more than %d rows in one page", MaxFetchCount)
				}
				row, err := scanRow(s, index, len(want), &slab)
				if err != nil {
					return err
				}
				out.Rows = append(out.Rows, row)
				return nil
			})
		case "MoreRecords":
			b, err := scanBool(s)
			out.MoreRecords = b
			return err
		case "PagingCookie":
			v, err := scanString(s)
			out.PagingCookie = v
			return err
		}
		return fmt.Errorf("unknown field %q", clip(string(key)))
	})
	if err == nil {
		err = s.End()
	}
	if err != nil {
		if len(body) == 0 {
			return nil, errors.New("wire: Fetch: empty body")
		}
		return nil, fmt.Errorf("wire: Fetch: %w", err)
	}
	if !seenEntities {
		return nil, errors.New("wire: Fetch: no Entities")
	}
	if len(out.PagingCookie) > maxCookieLen {
		return nil, errors.New("wire: Fetch: paging cookie too long")
	}
	if out.MoreRecords && out.PagingCookie == "" {
		return nil, errors.New("wire: Fetch: MoreRecords without a PagingCookie")
	}
	return out, nil
}

// row reads one element of Entities.
func scanRow(s *jsonscan.Scanner, index map[string]int, n int, slab *[]json.RawMessage) (FetchRow, error) {
	k := len(*slab)
	if cap(*slab)-k < n {
		*slab = make([]json.RawMessage, 0, max(4096, 2*n))
		k = 0
	}
	*slab = (*slab)[:k+n]
	row := FetchRow{Values: (*slab)[k : k+n : k+n]}
	attrs := 0
	var seenID, seenVersion, seenAttrs bool
	err := s.Object(func(key []byte) error {
		var dup *bool
		switch string(key) {
		case "Id":
			dup = &seenID
		case "RowVersion":
			dup = &seenVersion
		case "Attributes":
			dup = &seenAttrs
		}
		if dup != nil {
			if *dup {
				return fmt.Errorf("field %q twice in a row", string(key))
			}
			*dup = true
		}
		switch string(key) {
		case "Id":
			v, err := scanString(s)
			row.Id = v
			return err
		case "RowVersion":
			raw, err := s.Value()
			if err != nil {
				return err
			}
			v, ok := plainNumber(raw)
			if !ok {
				return fmt.Errorf("RowVersion %s is not an integer", clip(string(raw)))
			}
			row.RowVersion, err = strconv.ParseInt(v, 10, 64)
			if err != nil {
				return fmt.Errorf("RowVersion %s is not an integer", clip(v))
			}
			return nil
		case "Attributes":
			if s.Null() {
				return nil
			}
			return s.Object(func(name []byte) error {
				if attrs++; attrs > maxAttrs {
					return fmt.Errorf("more than %d attributes", maxAttrs)
				}
				raw, err := s.Value()
				if err != nil {
					return err
				}
				if j, ok := index[string(name)]; ok {
					row.Values[j] = raw
				}
				return nil
			})
		}
		return fmt.Errorf("unknown field %q", clip(string(key)))
	})
	if err != nil {
		return row, err
	}
	if err := checkID(row.Id); err != nil {
		return row, fmt.Errorf("a row's Id: %w", err)
	}
	if row.RowVersion <= 0 {
		return row, fmt.Errorf("row %s: RowVersion %d is not positive", row.Id, row.RowVersion)
	}
	return row, nil
}

func scanBool(s *jsonscan.Scanner) (bool, error) {
	raw, err := s.Value()
	if err != nil {
		return false, err
	}
	switch string(raw) {
	case "true":
		return true, nil
	case "false", "null":
		return false, nil
	}
	return false, fmt.Errorf("want true or false, got %s", clip(string(raw)))
}

func scanString(s *jsonscan.Scanner) (string, error) {
	if s.Null() {
		return "", nil
	}
	raw, err := s.String()
	if err != nil {
		return "", err
	}
	return DecodeString(raw)
}

// plainLookup reads a lookup written plainly, {"Id":"…","LogicalName":"…"}
// in either order, each once, without escapes or spaces, and checks it as
// DecodeLookup does; anything else is left to DecodeLookup's own path.
func plainLookup(raw []byte) (Lookup, bool) {
	var l Lookup
	var haveID, haveName bool
	i := 0
	next := func(c byte) bool {
		if i < len(raw) && raw[i] == c {
			i++
			return true
		}
		return false
	}
	str := func() ([]byte, bool) {
		if !next('"') {
			return nil, false
		}
		start := i
		for i < len(raw) && raw[i] != '"' {
			if raw[i] < 0x20 || raw[i] == '\\' {
				return nil, false
			}
			i++
		}
		if i == len(raw) {
			return nil, false
		}
		i++
		return raw[start : i-1], true
	}
	if !next('{') {
		return Lookup{}, false
	}
	for k := 0; k < 2; k++ {
		key, ok := str()
		if !ok || !next(':') {
			return Lookup{}, false
		}
		val, ok := str()
		if !ok || !utf8.Valid(val) {
			return Lookup{}, false
		}
		switch {
		case string(key) == "Id" && !haveID:
			l.Id, haveID = string(val), true
		case string(key) == "LogicalName" && !haveName:
			l.LogicalName, haveName = string(val), true
		default:
			return Lookup{}, false
		}
		if next('}') {
			break
		}
		if !next(',') {
			return Lookup{}, false
		}
	}
	if i != len(raw) || raw[i-1] != '}' || !haveID || !isGUID(l.Id) {
		return Lookup{}, false
	}
	if l.LogicalName != "" && checkName(l.LogicalName) != nil {
		return Lookup{}, false
	}
	l.Id = strings.ToLower(l.Id)
	return l, true
}
