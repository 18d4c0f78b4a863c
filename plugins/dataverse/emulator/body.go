package emulator

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// fieldSet is a request body read as column values of one entity.
type fieldSet struct {
	e     *Entity
	cols  []string
	vals  []any
	id    string // primary key given in the body
	binds []bindRef
	attrs map[string]bool // logical names set (by value or bind)
}

// bindRef is one lookup set by name@odata.bind (id "" clears it).
type bindRef struct {
	a      *Attribute
	target *Entity
	id     string
}

func (f *fieldSet) set(col string, v any) {
	for i, c := range f.cols {
		if c == col {
			f.vals[i] = v
			return
		}
	}
	f.cols = append(f.cols, col)
	f.vals = append(f.vals, v)
}

func (f *fieldSet) get(col string) (any, bool) {
	for i, c := range f.cols {
		if c == col {
			return f.vals[i], true
		}
	}
	return nil, false
}

func payloadError(e *Entity, msg string) *apiError {
	return badRequest(codePayload, fmt.Sprintf("Error identified in Payload provided by the user for Entity :'%s', For more information on this error please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ----> InnerException : Microsoft.OData.ODataException: %s", e.SetName, msg))
}

// bodyLimit is the most a JSON body may hold: a document at the upload
// limit plus room for the other fields.
func (k *call) bodyLimit() int64 { return k.s.opts.MaxUploadFileSize + 4<<20 }

// readEntityBody reads a JSON entity body for e.
func (k *call) readEntityBody(e *Entity, body io.Reader) (*fieldSet, error) {
	lr := &io.LimitedReader{R: body, N: k.bodyLimit() + 1}
	dec := json.NewDecoder(lr)
	dec.UseNumber()
	fs, err := k.decodeEntity(e, dec)
	if lr.N <= 0 {
		return nil, &apiError{Status: 413, Code: codeFileTooBig, Message: "The request body is larger than the emulator accepts."}
	}
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, payloadError(e, "Unexpected content after the entity object.")
	}
	return fs, nil
}

// decodeEntity reads one JSON object (the next value of dec) as e.
func (k *call) decodeEntity(e *Entity, dec *json.Decoder) (*fieldSet, error) {
	fs := &fieldSet{e: e, attrs: map[string]bool{}}
	t, err := dec.Token()
	if err != nil {
		return nil, payloadError(e, "The request body is not valid JSON: "+err.Error())
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return nil, payloadError(e, "The request body must be a JSON object.")
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, payloadError(e, "The request body is not valid JSON: "+err.Error())
		}
		key, _ := t.(string)
		v, err := dec.Token()
		if err != nil {
			return nil, payloadError(e, "The request body is not valid JSON: "+err.Error())
		}
		if _, ok := v.(json.Delim); ok {
			return nil, payloadError(e, fmt.Sprintf("The property '%s' holds an object or array; deep insert and collections are not supported by the emulator.", key))
		}
		if err := k.field(fs, key, v); err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, payloadError(e, "The request body is not valid JSON: "+err.Error())
	}
	return fs, nil
}

// field applies one property of the body.
func (k *call) field(fs *fieldSet, key string, v any) error {
	e := fs.e
	if name, ok := strings.CutSuffix(key, "@odata.bind"); ok {
		return k.bind(fs, name, v)
	}
	if key == "@odata.type" {
		s, _ := v.(string)
		if strings.TrimPrefix(s, "#") != "Microsoft.Dynamics.CRM."+e.Name {
			return payloadError(e, fmt.Sprintf("The type '%v' is not 'Microsoft.Dynamics.CRM.%s'.", v, e.Name))
		}
		return nil
	}
	if strings.Contains(key, "@") {
		return nil // instance annotations: ignored
	}
	a := e.prop(key)
	if a == nil {
		if la := e.attr(key); la != nil && la.Kind == KindLookup {
			return payloadError(e, fmt.Sprintf("A value for the lookup '%s' is set with %s@odata.bind.", key, la.Navs[0]))
		}
		return payloadError(e, fmt.Sprintf("The property '%s' does not exist on type 'Microsoft.Dynamics.CRM.%s'. Make sure to only use property names that are defined by the type or mark the type as open type.", key, e.Name))
	}
	if a.Kind == KindLookup {
		return badRequest(codePayload, "CRM do not support direct update of Entity Reference properties, Use Navigation properties instead.")
	}
	if a.Name == e.PrimaryKey {
		s, ok := v.(string)
		g, valid := parseGUID(s)
		if !ok || !valid {
			return payloadError(e, fmt.Sprintf("Cannot convert the literal '%v' to the expected type 'Edm.Guid'.", v))
		}
		fs.id = g
		return nil
	}
	if a.ReadOnly {
		return nil // system-set columns: ignored, as Dataverse ignores them
	}
	val, err := k.convert(e, a, v)
	if err != nil {
		return err
	}
	fs.set(a.Column, val)
	fs.attrs[a.Name] = true
	return nil
}

// bind applies name@odata.bind: a navigation property (or a lookup's
// logical name) set to an entity reference.
func (k *call) bind(fs *fieldSet, name string, v any) error {
	e := fs.e
	a := e.byNav[name]
	if a == nil {
		if la := e.attr(name); la != nil && la.Kind == KindLookup {
			a = la
		}
	}
	if a == nil || a.ReadOnly {
		return payloadError(e, fmt.Sprintf("An undeclared property '%s' which only has property annotations in the payload but no property value was found in the payload.", name))
	}
	if v == nil {
		fs.binds = append(fs.binds, bindRef{a: a})
		fs.attrs[a.Name] = true
		return nil
	}
	s, ok := v.(string)
	if !ok {
		return payloadError(e, fmt.Sprintf("The value of %s@odata.bind must be an entity URL.", name))
	}
	te, id, err := k.resolveRef(s)
	if err != nil {
		return err
	}
	want, isNav := a.navTarget(name)
	ok = false
	for _, t := range a.Targets {
		ok = ok || t == te.Name
	}
	if !ok || isNav && want != te.Name {
		return payloadError(e, fmt.Sprintf("The reference '%s' is not a %s, which %s@odata.bind needs.", s, strings.Join(a.Targets, " or "), name))
	}
	fs.binds = append(fs.binds, bindRef{a: a, target: te, id: id})
	fs.attrs[a.Name] = true
	return nil
}

// resolveRef reads an entity reference: "/accounts(id)", "accounts(id)",
// an absolute URL, or "$n" (a change set's Content-ID).
func (k *call) resolveRef(s string) (*Entity, string, error) {
	orig := s
	if strings.HasPrefix(s, "$") {
		ref, ok := k.refs[s]
		if !ok {
			return nil, "", badRequest(codeBatch, fmt.Sprintf("Content-ID Reference: '%s' does not exist in the batch context.", s))
		}
		s = ref
	}
	if i := strings.Index(s, APIPath); i >= 0 {
		s = s[i+len(APIPath):]
	}
	s = strings.TrimPrefix(s, "/")
	open := strings.IndexByte(s, '(')
	if open < 0 || !strings.HasSuffix(s, ")") {
		return nil, "", badRequest(codePayload, fmt.Sprintf("'%s' is not an entity reference (entityset(id)).", orig))
	}
	te := entityBySet(s[:open])
	if te == nil {
		return nil, "", segmentNotFound(s[:open])
	}
	id, ok := parseGUID(strings.TrimPrefix(s[open+1:len(s)-1], te.PrimaryKey+"="))
	if !ok {
		return nil, "", badRequest(codePayload, fmt.Sprintf("'%s' is not an entity reference with a GUID key.", orig))
	}
	return te, id, nil
}

func convertError(e *Entity, v any, a *Attribute) *apiError {
	return payloadError(e, fmt.Sprintf("Cannot convert the literal '%v' to the expected type '%s'.", v, a.Kind.edmType()))
}

// convert turns a JSON value into the stored value of attribute a.
func (k *call) convert(e *Entity, a *Attribute, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch a.Kind {
	case KindString, KindMemo:
		s, ok := v.(string)
		if !ok {
			return nil, convertError(e, v, a)
		}
		if a.MaxLength > 0 && utf8.RuneCountInString(s) > a.MaxLength {
			return nil, badRequest(codeValidation, fmt.Sprintf("A validation error occurred.  The length of the '%s' attribute of the '%s' entity exceeded the maximum allowed length of '%d'.", a.Name, e.Name, a.MaxLength))
		}
		return s, nil
	case KindGUID:
		s, _ := v.(string)
		g, ok := parseGUID(s)
		if !ok {
			return nil, convertError(e, v, a)
		}
		return g, nil
	case KindInt, KindChoice, KindBigInt:
		n, ok := v.(json.Number)
		if !ok {
			return nil, convertError(e, v, a)
		}
		i, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil || a.Kind != KindBigInt && (i < math.MinInt32 || i > math.MaxInt32) {
			return nil, convertError(e, v, a)
		}
		if a.Kind == KindChoice {
			ok := false
			var vals []string
			for _, c := range a.Choices {
				ok = ok || int64(c.Value) == i
				vals = append(vals, strconv.Itoa(c.Value))
			}
			if !ok {
				return nil, badRequest(codeOptionRange, fmt.Sprintf("A validation error occurred. The value %d of '%s' on record of type '%s' is outside the valid range. Accepted Values: %s", i, a.Name, e.Name, strings.Join(vals, ",")))
			}
		}
		return i, nil
	case KindMoney:
		n, ok := v.(json.Number)
		if !ok {
			return nil, convertError(e, v, a)
		}
		r, ok := new(big.Rat).SetString(string(n))
		if !ok {
			return nil, convertError(e, v, a)
		}
		r.Mul(r, big.NewRat(10000, 1))
		f, _ := r.Float64()
		if math.Abs(f) > 922337203685477 {
			return nil, badRequest(codeValidation, fmt.Sprintf("A validation error occurred. The value of '%s' is outside the range of a money value.", a.Name))
		}
		return int64(math.Round(f)), nil
	case KindDouble:
		n, ok := v.(json.Number)
		if !ok {
			return nil, convertError(e, v, a)
		}
		f, err := n.Float64()
		if err != nil {
			return nil, convertError(e, v, a)
		}
		return f, nil
	case KindBool:
		b, ok := v.(bool)
		if !ok {
			return nil, convertError(e, v, a)
		}
		return b, nil
	case KindDateTime:
		s, ok := v.(string)
		if !ok {
			return nil, convertError(e, v, a)
		}
		t, err := parseDateTime(s)
		if err != nil {
			d, derr := time.Parse("2006-01-02", s)
			if derr != nil {
				return nil, convertError(e, v, a)
			}
			t = d
		}
		return t.Truncate(time.Second).UnixMicro(), nil
	case KindDate:
		s, ok := v.(string)
		if !ok {
			return nil, convertError(e, v, a)
		}
		if d, err := time.Parse("2006-01-02", s); err == nil {
			return d.Format("2006-01-02"), nil
		}
		if t, err := parseDateTime(s); err == nil {
			return t.UTC().Format("2006-01-02"), nil
		}
		return nil, convertError(e, v, a)
	case KindFile:
		s, ok := v.(string)
		if !ok {
			return nil, convertError(e, v, a)
		}
		if int64(len(s)) > k.s.opts.MaxUploadFileSize {
			return nil, badRequest(codeFileTooBig, "Attachment file size is too big.")
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, payloadError(e, fmt.Sprintf("The value of '%s' is not valid base64.", a.Name))
		}
		return b, nil
	}
	return nil, convertError(e, v, a)
}
