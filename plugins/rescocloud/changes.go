package rescocloud

import (
	"context"

	"github.com/fieldsync/fieldsync/sdk"
)

// CheckChanges answers, with one GetMaxRowVersion request for up to 100
// entities, which entities moved past their tokens' versions. The version
// covers rows and tracked removals, so an unchanged version means nothing
// to fetch. A probe without a usable token, of an entity whose removals are
// not tracked (a delete would not move its version), or one the service
// does not answer for, answers true: the fetch finds out.
func (c *Connector) CheckChanges(ctx context.Context, probes []sdk.ChangeProbe) ([]bool, error) {
	if err := c.check(ctx, "check changes"); err != nil {
		return nil, err
	}
	m, err := c.loadModel(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]bool, len(probes))
	tokens := make([]int64, len(probes))
	var ask []string
	asked := map[string]bool{}
	for i, p := range probes {
		out[i] = true
		tokens[i] = -1
		em, err := m.entity(p.Entity)
		if err != nil {
			return nil, err
		}
		var tok changeToken
		if !em.tracking || !decodeOpaque(tokenPrefix, p.Token, &tok) || tok.Entity != p.Entity || tok.RV < 0 {
			continue
		}
		tokens[i] = tok.RV
		if !asked[p.Entity] {
			asked[p.Entity] = true
			ask = append(ask, p.Entity)
		}
	}
	if len(ask) == 0 {
		return out, nil
	}
	versions, err := c.maxRowVersions(ctx, ask)
	if err != nil {
		return nil, err
	}
	for i, p := range probes {
		if tokens[i] < 0 {
			continue
		}
		if v, ok := versions[p.Entity]; ok && v == tokens[i] {
			out[i] = false
		}
	}
	return out, nil
}
