package salesforce

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/fieldsync/fieldsync/sdk"
)

// Composite requests (REST API Developer Guide, "Composite"): one POST to
// services/data/vXX.X/composite carries several subrequests and counts as
// one API call. It may hold up to five sObject Collections or query
// subrequests; a collection holds up to 200 records.
const (
	maxSubrequests    = 5
	maxCollection     = 200
	compositeAllOrNot = false // subrequests succeed or fail on their own
)

type compositeRequest struct {
	AllOrNone        bool         `json:"allOrNone"`
	CompositeRequest []subrequest `json:"compositeRequest"`
}

type subrequest struct {
	Method      string `json:"method"`
	URL         string `json:"url"`
	ReferenceID string `json:"referenceId"`
	Body        any    `json:"body,omitempty"`
}

// collectionBody is an sObject Collections request body.
type collectionBody struct {
	AllOrNone bool             `json:"allOrNone"`
	Records   []map[string]any `json:"records"`
}

// subresponse is one answer of a composite.
type subresponse struct {
	Body        json.RawMessage `json:"body"`
	Status      int             `json:"httpStatusCode"`
	ReferenceID string          `json:"referenceId"`
}

// collectionResult is one record's outcome in a collection answer.
type collectionResult struct {
	ID      string    `json:"id"`
	Success bool      `json:"success"`
	Created bool      `json:"created"`
	Errors  []sfError `json:"errors"`
}

// parseCompositeResponse reads {"compositeResponse":[…]} and checks it
// answers exactly the subrequests sent, by reference id.
func parseCompositeResponse(body []byte, sent []subrequest) ([]subresponse, error) {
	var doc struct {
		CompositeResponse []subresponse `json:"compositeResponse"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("composite answer is not a composite response: %w", err)
	}
	if len(doc.CompositeResponse) != len(sent) {
		return nil, fmt.Errorf("composite answer has %d subresponses for %d subrequests", len(doc.CompositeResponse), len(sent))
	}
	for i, r := range doc.CompositeResponse {
		if r.ReferenceID != sent[i].ReferenceID {
			return nil, fmt.Errorf("composite subresponse %d answers %q, want %q", i, truncate(r.ReferenceID, 40), sent[i].ReferenceID)
		}
	}
	return doc.CompositeResponse, nil
}

// parseCollectionResults reads a collection subresponse's body: one result
// per record sent, in order.
func parseCollectionResults(body json.RawMessage, n int) ([]collectionResult, error) {
	var out []collectionResult
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("collection answer is not a result array: %w", err)
	}
	if len(out) != n {
		return nil, fmt.Errorf("collection answer has %d results for %d records", len(out), n)
	}
	for i, r := range out {
		if r.Success && r.ID != "" && !validID(r.ID) {
			return nil, fmt.Errorf("collection result %d names id %q", i, truncate(r.ID, 40))
		}
	}
	return out, nil
}

// composite sends one composite request and returns its subresponses.
func (c *Connector) composite(ctx context.Context, subs []subrequest, what string) ([]subresponse, error) {
	body, err := json.Marshal(compositeRequest{AllOrNone: compositeAllOrNot, CompositeRequest: subs})
	if err != nil {
		return nil, sdk.Errorf(sdk.Permanent, "salesforce: %s: encoding the composite request: %v", what, err)
	}
	resp, err := c.force.rest(ctx, call{Method: http.MethodPost, Path: c.force.dataPath("composite"), Body: body,
		Header: http.Header{"Content-Type": {"application/json"}}, What: what})
	if err != nil {
		return nil, err
	}
	out, err := parseCompositeResponse(resp.Body, subs)
	if err != nil {
		// The writes may have happened: the outcome is unknown.
		return nil, sdk.Errorf(sdk.Retryable, "salesforce: %s: %v", what, err)
	}
	return out, nil
}

// querySub is a query subrequest of q.
func (c *Connector) querySub(ref, q string) subrequest {
	return subrequest{Method: http.MethodGet, URL: "/" + c.force.dataPath("query?q="+url.QueryEscape(q)), ReferenceID: ref}
}

// runQueries sends query subrequests, maxSubrequests per composite, and
// hands each answer's records to fn (in the order of qs).
func (c *Connector) runQueries(ctx context.Context, qs []string, what string, fn func(i int, p *queryPage) error) error {
	for start := 0; start < len(qs); start += maxSubrequests {
		end := min(start+maxSubrequests, len(qs))
		subs := make([]subrequest, 0, end-start)
		for i := start; i < end; i++ {
			subs = append(subs, c.querySub(fmt.Sprintf("q%d", i-start), qs[i]))
		}
		answers, err := c.composite(ctx, subs, what)
		if err != nil {
			return err
		}
		for k, a := range answers {
			if a.Status < 200 || a.Status > 299 {
				return parseAPIError(a.Status, a.Body, what).sdkError()
			}
			p, err := parseQueryPage(a.Body)
			if err != nil {
				return sdk.Errorf(sdk.Retryable, "salesforce: %s: %v", what, err)
			}
			if !p.Done {
				return sdk.Errorf(sdk.Permanent, "salesforce: %s: a lookup of at most %d ids answered more than one batch", what, maxCollection)
			}
			if err := fn(start+k, p); err != nil {
				return err
			}
		}
	}
	return nil
}
