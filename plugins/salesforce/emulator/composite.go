package emulator

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

const (
	maxSubrequests = 25
	maxHeavy       = 5 // collections and queries in one composite
)

type subRequest struct {
	Method      string            `json:"method"`
	URL         string            `json:"url"`
	ReferenceID string            `json:"referenceId"`
	Body        json.RawMessage   `json:"body"`
	Headers     map[string]string `json:"httpHeaders"`
}

var refIDRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,79}$`)
var refUseRe = regexp.MustCompile(`@\{([A-Za-z][A-Za-z0-9_]*)((?:\.[A-Za-z0-9_]+|\[[0-9]+\])*)\}`)

func halted(msg string) *apiResp {
	return jsonResp(400, []any{map[string]string{"errorCode": "PROCESSING_HALTED", "message": msg}})
}

// composite is POST composite: up to 25 subrequests in order, counted as
// one API call, with @{ref.path} references to earlier answers.
func (s *Server) composite(ctx context.Context, r *apiReq) *apiResp {
	var body struct {
		AllOrNone        bool         `json:"allOrNone"`
		CompositeRequest []subRequest `json:"compositeRequest"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		return errResp(errf(400, "JSON_PARSER_ERROR", "The request body is not a composite request"))
	}
	subs := body.CompositeRequest
	if len(subs) == 0 {
		return errResp(errf(400, "INVALID_INPUT", "compositeRequest must hold at least one subrequest"))
	}
	if len(subs) > maxSubrequests {
		return errResp(errf(400, "LIMIT_EXCEEDED", "Limit Exceeded: a composite request holds at most %d subrequests", maxSubrequests))
	}
	heavy := 0
	seen := map[string]bool{}
	for _, sr := range subs {
		if !refIDRe.MatchString(sr.ReferenceID) || seen[sr.ReferenceID] {
			return errResp(errf(400, "INVALID_INPUT", "Invalid or duplicate referenceId: %s", truncate(sr.ReferenceID, 80)))
		}
		seen[sr.ReferenceID] = true
		p := sr.URL
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		if strings.Contains(p, "/composite/sobjects") || strings.HasSuffix(p, "/query") || strings.HasSuffix(p, "/queryAll") || strings.Contains(p, "/query/") || strings.Contains(p, "/queryAll/") {
			heavy++
		}
	}
	if heavy > maxHeavy {
		return errResp(errf(400, "LIMIT_EXCEEDED", "Limit Exceeded: a composite request holds at most %d sObject Collections and query subrequests", maxHeavy))
	}
	ctx = withStamp(ctx)
	var tx *txState
	if body.AllOrNone {
		s.st.wmu.Lock()
		c := s.st.writer
		c.db.SetInterrupt(ctx)
		defer func() {
			c.rollback()
			c.db.SetInterrupt(context.Background())
			s.st.wmu.Unlock()
		}()
		if err := c.db.Exec(`BEGIN IMMEDIATE`); err != nil {
			return s.internal(err)
		}
		tx = &txState{c: c}
		ctx = context.WithValue(ctx, txKey{}, tx)
	}
	answers := map[string]any{}
	out := make([]any, len(subs))
	failedAt := -1
	for i, sr := range subs {
		resp := s.subrequest(ctx, r, sr, answers)
		out[i] = &rec{keys: []string{"body", "httpHeaders", "httpStatusCode", "referenceId"}, vals: []any{resp.doc, headerMap(resp.header), resp.status, sr.ReferenceID}}
		if resp.status < 300 {
			var doc any
			_ = json.Unmarshal(marshal(resp.doc), &doc)
			answers[sr.ReferenceID] = doc
		}
		if resp.status >= 400 && body.AllOrNone {
			failedAt = i
			break
		}
	}
	if tx != nil {
		if failedAt >= 0 {
			tx.c.rollback()
			msg := "The transaction was rolled back since another operation in the same transaction failed."
			for i := range subs {
				if i == failedAt {
					continue
				}
				h := halted(msg)
				out[i] = &rec{keys: []string{"body", "httpHeaders", "httpStatusCode", "referenceId"}, vals: []any{h.doc, map[string]string{}, 400, subs[i].ReferenceID}}
			}
		} else if err := tx.c.db.Exec(`COMMIT`); err != nil {
			return s.internal(err)
		}
	}
	return jsonResp(200, map[string]any{"compositeResponse": out})
}

func headerMap(h http.Header) map[string]string {
	m := map[string]string{}
	for k := range h {
		m[k] = h.Get(k)
	}
	return m
}

func (s *Server) subrequest(ctx context.Context, parent *apiReq, sr subRequest, answers map[string]any) *apiResp {
	rawURL, err := substitute(sr.URL, answers, false)
	if err != nil {
		return halted(err.Error())
	}
	var body []byte
	if len(sr.Body) > 0 && string(sr.Body) != "null" {
		b, err := substitute(string(sr.Body), answers, true)
		if err != nil {
			return halted(err.Error())
		}
		body = []byte(b)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return errResp(errf(400, "INVALID_INPUT", "invalid subrequest url"))
	}
	m := versionRe.FindStringSubmatch(u.Path)
	if m == nil {
		return errResp(errf(404, "NOT_FOUND", "The requested resource does not exist"))
	}
	method := strings.ToUpper(sr.Method)
	switch method {
	case http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete, http.MethodPut:
	default:
		return errResp(errf(400, "INVALID_INPUT", "invalid subrequest method %s", truncate(sr.Method, 20)))
	}
	h := http.Header{}
	for k, v := range sr.Headers {
		h.Set(k, v)
	}
	req := &apiReq{method: method, version: m[1], path: strings.TrimPrefix(m[2], "/"), query: u.Query(), header: h, body: body, user: parent.user}
	if blobPath(req) {
		return errResp(errf(400, "INVALID_INPUT", "blob fields cannot be read in a composite request"))
	}
	if strings.TrimSuffix(req.path, "/") == "composite" {
		return errResp(errf(400, "INVALID_INPUT", "a composite request cannot hold a composite request"))
	}
	return s.api(ctx, req)
}

// substitute replaces @{ref.path} with values of earlier answers; in a
// JSON body the value is escaped for a JSON string.
func substitute(src string, answers map[string]any, inJSON bool) (string, error) {
	var firstErr error
	out := refUseRe.ReplaceAllStringFunc(src, func(m string) string {
		sub := refUseRe.FindStringSubmatch(m)
		v, ok := answers[sub[1]]
		if ok {
			v, ok = walk(v, sub[2])
		}
		if !ok {
			if firstErr == nil {
				firstErr = fmt.Errorf("Invalid reference specified. No value for %s found in %s. Provided referenceId ('%s') must be defined prior to this subrequest.", strings.Trim(m, "@{}"), sub[1], sub[1])
			}
			return m
		}
		var text string
		switch x := v.(type) {
		case string:
			text = x
		case float64:
			text = strconv.FormatFloat(x, 'f', -1, 64)
		case bool:
			text = strconv.FormatBool(x)
		default:
			text = string(marshal(x))
		}
		if inJSON {
			q := string(marshal(text))
			return q[1 : len(q)-1]
		}
		return text
	})
	return out, firstErr
}

var stepRe = regexp.MustCompile(`\.([A-Za-z0-9_]+)|\[([0-9]+)\]`)

func walk(v any, path string) (any, bool) {
	for _, st := range stepRe.FindAllStringSubmatch(path, -1) {
		if st[1] != "" {
			m, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			v, ok = m[st[1]]
			if !ok {
				return nil, false
			}
			continue
		}
		i, _ := strconv.Atoi(st[2])
		a, ok := v.([]any)
		if !ok || i >= len(a) {
			return nil, false
		}
		v = a[i]
	}
	return v, v != nil
}
