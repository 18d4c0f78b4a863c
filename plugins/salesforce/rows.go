package salesforce

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/fieldsync/fieldsync/sdk/jsonscan"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fieldsync/fieldsync/sdk"
)

// queryPage is one answer of /query or /queryAll: {totalSize, done,
// nextRecordsUrl, records:[{attributes:{type,url}, …}]}. Records stay raw
// until a column asks for a field, so numbers keep their exact text.
type queryPage struct {
	TotalSize      int                          `json:"totalSize"`
	Done           bool                         `json:"done"`
	NextRecordsURL string                       `json:"nextRecordsUrl"`
	Records        []map[string]json.RawMessage `json:"records"`
}

// maxQueryRecords bounds a page: Salesforce sends at most 2000 rows a
// batch; more is a server we do not understand.
const maxQueryRecords = 2000

// parseQueryPage reads a query answer. It walks the page with
// sdk/jsonscan rather than encoding/json: in the WASM build reflection and
// encoding/json's per-byte state machine cost far more than natively, and
// a page is the download's hot path. FuzzScanQueryPage holds it to
// json.Unmarshal's reading.
func parseQueryPage(body []byte) (*queryPage, error) {
	p, err := scanQueryPage(body)
	if err != nil {
		return nil, fmt.Errorf("query answer is not a query result: %w", err)
	}
	return checkQueryPage(p)
}

// scanQueryPage reads the members of a query answer it knows and skips
// the others, as json.Unmarshal into queryPage does.
func scanQueryPage(body []byte) (*queryPage, error) {
	p := &queryPage{}
	s := jsonscan.New(body)
	width := 8
	err := s.Object(func(key []byte) error {
		// json.Unmarshal matches member names without regard to case,
		// Unicode folds included; ASCII names are folded here, and a page
		// with another name is refused rather than read differently.
		for _, c := range key {
			if c >= 0x80 {
				return fmt.Errorf("member name %q is not ASCII", truncate(string(key), 40))
			}
		}
		switch string(bytes.ToLower(key)) {
		case "totalsize":
			raw, err := s.Value()
			if err != nil || string(raw) == "null" {
				return err
			}
			n, err := strconv.ParseInt(string(raw), 10, 0)
			if err != nil {
				return fmt.Errorf("totalSize %s is not an integer", truncate(string(raw), 40))
			}
			p.TotalSize = int(n)
		case "done":
			raw, err := s.Value()
			if err != nil {
				return err
			}
			switch string(raw) {
			case "true":
				p.Done = true
			case "false", "null":
				p.Done = false
			default:
				return fmt.Errorf("done %s is not a boolean", truncate(string(raw), 40))
			}
		case "nextrecordsurl":
			raw, err := s.Value()
			if err != nil || string(raw) == "null" {
				return err
			}
			if err := json.Unmarshal(raw, &p.NextRecordsURL); err != nil {
				return fmt.Errorf("nextRecordsUrl: %w", err)
			}
		case "records":
			if s.Null() {
				p.Records = nil
				return nil
			}
			p.Records = p.Records[:0]
			return s.Array(func() error {
				if len(p.Records) == maxQueryRecords {
					return fmt.Errorf("more than the %d records of a batch", maxQueryRecords)
				}
				if s.Null() {
					p.Records = append(p.Records, nil)
					return nil
				}
				rec := make(map[string]json.RawMessage, width) // sized like the last record: no regrowth
				err := s.Object(func(name []byte) error {
					raw, err := s.Value()
					if err != nil {
						return err
					}
					rec[string(name)] = raw
					return nil
				})
				p.Records = append(p.Records, rec)
				width = len(rec)
				return err
			})
		default:
			_, err := s.Value()
			return err
		}
		return nil
	})
	if err == nil {
		err = s.End()
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

// checkQueryPage checks what a query answer promises.
func checkQueryPage(p *queryPage) (*queryPage, error) {
	if len(p.Records) > maxQueryRecords {
		return nil, fmt.Errorf("query answer holds %d records, more than the %d of a batch", len(p.Records), maxQueryRecords)
	}
	if !p.Done && p.NextRecordsURL == "" {
		return nil, errors.New("query answer is not done but has no nextRecordsUrl")
	}
	if p.NextRecordsURL != "" && !strings.HasPrefix(p.NextRecordsURL, "/services/data/") {
		return nil, fmt.Errorf("query answer's nextRecordsUrl %q is not a REST path", truncate(p.NextRecordsURL, 100))
	}
	for i, r := range p.Records {
		if r == nil {
			return nil, fmt.Errorf("query record %d is null", i)
		}
	}
	return p, nil
}

// recordID reads a record's Id.
func recordID(r map[string]json.RawMessage) (string, error) {
	id, err := text(r["Id"])
	if err != nil || !validID(id) {
		return "", fmt.Errorf("record has no valid Id (%s)", truncate(string(r["Id"]), 40))
	}
	return id, nil
}

// validID accepts 15 or 18 letters and digits: a Salesforce id.
func validID(s string) bool {
	if len(s) != 15 && len(s) != 18 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// recordStamp reads a record's SystemModstamp as Unix milliseconds.
func recordStamp(r map[string]json.RawMessage) (int64, error) {
	v, err := decodeValue("datetime", sdk.TypeDateTime, r["SystemModstamp"])
	if err != nil || v.IsNull() {
		return 0, fmt.Errorf("record has no valid SystemModstamp (%s)", truncate(string(r["SystemModstamp"]), 40))
	}
	return v.Int() / 1000, nil
}

// recordDeleted reads IsDeleted (absent: false).
func recordDeleted(r map[string]json.RawMessage) (bool, error) {
	raw, ok := r["IsDeleted"]
	if !ok || isNull(raw) {
		return false, nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		return false, fmt.Errorf("record's IsDeleted is %s, not a boolean", truncate(string(raw), 40))
	}
	return b, nil
}

func version(stampMs int64) string { return strconv.FormatInt(stampMs, 10) }

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// Date-time layouts Salesforce answers with (2024-01-02T03:04:05.000+0000)
// and what tests and emulators may send.
var dateTimeLayouts = []string{"2006-01-02T15:04:05.000-0700", "2006-01-02T15:04:05-0700", time.RFC3339Nano}

// decodeValue reads one field's JSON value as the sdk value of its type.
func decodeValue(sfType string, typ sdk.FieldType, raw json.RawMessage) (sdk.Value, error) {
	if isNull(raw) {
		return sdk.Null(), nil
	}
	switch typ {
	case sdk.TypeString, sdk.TypeGUID, sdk.TypeLookup:
		s, err := text(raw)
		if err != nil {
			return sdk.Null(), err
		}
		return sdk.String(s), nil
	case sdk.TypeBool:
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return sdk.Null(), fmt.Errorf("%s is not a boolean", truncate(string(raw), 40))
		}
		return sdk.Bool(b), nil
	case sdk.TypeInt:
		n, err := number(raw)
		if err != nil {
			return sdk.Null(), err
		}
		i, err := strconv.ParseInt(n, 10, 64)
		if err != nil {
			// Some answers write whole numbers as 12.0.
			f, ferr := strconv.ParseFloat(n, 64)
			if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
				return sdk.Null(), fmt.Errorf("%s is not a whole number", truncate(n, 40))
			}
			i = int64(f)
		}
		return sdk.Int(i), nil
	case sdk.TypeFloat:
		n, err := number(raw)
		if err != nil {
			return sdk.Null(), err
		}
		f, err := strconv.ParseFloat(n, 64)
		if err != nil {
			return sdk.Null(), fmt.Errorf("%s is not a number", truncate(n, 40))
		}
		return sdk.Float(f), nil
	case sdk.TypeDecimal:
		n, err := number(raw)
		if err != nil {
			return sdk.Null(), err
		}
		return decimalText(n)
	case sdk.TypeDateTime:
		s, err := text(raw)
		if err != nil {
			return sdk.Null(), err
		}
		if sfType == "date" {
			t, err := time.Parse("2006-01-02", s)
			if err != nil {
				return sdk.Null(), fmt.Errorf("%q is not a date", truncate(s, 40))
			}
			return sdk.Time(t), nil
		}
		for _, layout := range dateTimeLayouts {
			if t, err := time.Parse(layout, s); err == nil {
				return sdk.Time(t), nil
			}
		}
		return sdk.Null(), fmt.Errorf("%q is not a date-time", truncate(s, 40))
	}
	return sdk.Null(), fmt.Errorf("type %s cannot be read", typ)
}

// text returns a JSON string's value; one without escapes is sliced out
// without a decoder (most values of a page).
func text(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		inner := raw[1 : len(raw)-1]
		if bytes.IndexByte(inner, '\\') < 0 && bytes.IndexByte(inner, '"') < 0 && utf8.Valid(inner) && !hasControl(inner) {
			return string(inner), nil
		}
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%s is not text", truncate(string(raw), 40))
	}
	return s, nil
}

func hasControl(b []byte) bool {
	for _, c := range b {
		if c < 0x20 {
			return true
		}
	}
	return false
}

// number returns a JSON number's text (a quoted number is accepted too).
// The text is checked by the caller's strconv parse or IsPlainDecimal.
func number(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		s, err := text(raw)
		if err != nil {
			return "", err
		}
		raw = []byte(s)
	}
	n := string(raw)
	if _, err := strconv.ParseFloat(n, 64); err != nil && !sdk.IsPlainDecimal(n) {
		return "", fmt.Errorf("%s is not a number", truncate(n, 40))
	}
	return n, nil
}

// decimalText normalises a JSON number to the sdk's decimal text: plain
// digits, no exponent ("1.5E+3" → "1500").
func decimalText(n string) (sdk.Value, error) {
	if sdk.IsPlainDecimal(n) {
		return sdk.String(strings.TrimPrefix(n, "+")), nil
	}
	f, err := strconv.ParseFloat(n, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return sdk.Null(), fmt.Errorf("%s is not a decimal number", truncate(n, 40))
	}
	return sdk.String(strconv.FormatFloat(f, 'f', -1, 64)), nil
}

// encodeValue renders a pushed value as the JSON a field of f's type takes.
func encodeValue(f *field, v sdk.Value) (any, error) {
	if v.IsNull() {
		return nil, nil
	}
	if err := v.CheckType(f.typ); err != nil {
		return nil, err
	}
	switch f.typ {
	case sdk.TypeString, sdk.TypeGUID, sdk.TypeLookup:
		return v.Str(), nil
	case sdk.TypeBool:
		return v.Bool(), nil
	case sdk.TypeInt:
		return v.Int(), nil
	case sdk.TypeFloat:
		x := v.Float()
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%v is not a number Salesforce can store", x)
		}
		return x, nil
	case sdk.TypeDecimal:
		if !sdk.IsPlainDecimal(v.Str()) {
			return nil, fmt.Errorf("%q is not a decimal number", v.Str())
		}
		return json.Number(strings.TrimPrefix(v.Str(), "+")), nil
	case sdk.TypeDateTime:
		t := v.Time()
		if f.sfType == "date" {
			if t.Hour() != 0 || t.Minute() != 0 || t.Second() != 0 || t.Nanosecond() != 0 {
				return nil, fmt.Errorf("%s is not a whole UTC day, which a date field needs", t.Format(time.RFC3339Nano))
			}
			return t.Format("2006-01-02"), nil
		}
		if t.Nanosecond()%int(time.Millisecond) != 0 {
			return nil, fmt.Errorf("%s is finer than the milliseconds Salesforce keeps", t.Format(time.RFC3339Nano))
		}
		return t.Format("2006-01-02T15:04:05.000Z"), nil
	}
	return nil, fmt.Errorf("a %s field cannot be written", f.typ)
}
