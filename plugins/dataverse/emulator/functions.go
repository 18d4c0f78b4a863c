package emulator

import (
	"net/http"
	"strconv"
	"strings"
)

// whoAmI serves the WhoAmI function.
func (k *call) whoAmI(w http.ResponseWriter) error {
	b := []byte(`{"@odata.context":`)
	b = appendJSONString(b, k.base+APIPath+"$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse")
	b = append(b, `,"BusinessUnitId":`...)
	b = appendJSONString(b, k.user.businessUnitID)
	b = append(b, `,"UserId":`...)
	b = appendJSONString(b, k.user.userID)
	b = append(b, `,"OrganizationId":`...)
	b = appendJSONString(b, k.s.orgID)
	b = append(b, '}')
	odataHeaders(w.Header())
	w.Write(b)
	return nil
}

// totalRecordCount serves RetrieveTotalRecordCount(EntityNames=[…]): the
// uncapped row counts (Dataverse's is a snapshot up to a day old; the
// emulator's is current).
func (k *call) totalRecordCount(w http.ResponseWriter, r *http.Request, path string) error {
	if r.Method != http.MethodGet {
		return methodNotAllowed(r.Method, "RetrieveTotalRecordCount")
	}
	inner := strings.TrimSuffix(strings.TrimPrefix(path, "RetrieveTotalRecordCount("), ")")
	val, ok := strings.CutPrefix(inner, "EntityNames=")
	if !ok {
		return badRequest(codeQuery, "RetrieveTotalRecordCount needs EntityNames=['account',…].")
	}
	if strings.HasPrefix(val, "@") {
		q, _ := parseQuery(r.URL.RawQuery)
		if q != nil {
			val = q.get(val)
		}
	}
	val = strings.TrimSpace(val)
	if !strings.HasPrefix(val, "[") || !strings.HasSuffix(val, "]") {
		return badRequest(codeQuery, "EntityNames must be a list: ['account','contact'].")
	}
	var names []string
	for _, n := range strings.Split(strings.Trim(val, "[]"), ",") {
		n = strings.Trim(strings.TrimSpace(n), `'"`)
		if n == "" {
			continue
		}
		if model[n] == nil {
			return badRequest(codeQuery, "The entity '"+n+"' does not exist.")
		}
		names = append(names, n)
	}
	c, err := k.conn()
	if err != nil {
		return err
	}
	b := []byte(`{"@odata.context":`)
	b = appendJSONString(b, k.base+APIPath+"$metadata#Microsoft.Dynamics.CRM.RetrieveTotalRecordCountResponse")
	b = append(b, `,"EntityRecordCountCollection":{"Count":`...)
	b = strconv.AppendInt(b, int64(len(names)), 10)
	b = append(b, `,"IsReadOnly":false,"Keys":[`...)
	for i, n := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, n)
	}
	b = append(b, `],"Values":[`...)
	for i, n := range names {
		cnt, _, err := c.queryInt(`SELECT count(*) FROM ` + quoteIdent(n))
		if err != nil {
			return err
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, cnt, 10)
	}
	b = append(b, "]}}"...)
	odataHeaders(w.Header())
	w.Write(b)
	return nil
}
