package engine

import (
	"fmt"
	"time"

	"github.com/fieldsync/fieldsync/core/conflict"
	"github.com/fieldsync/fieldsync/core/store"
	"github.com/fieldsync/fieldsync/sdk"
)

// resolver turns an entity's conflict policy into the store's Resolver: it
// builds the policy's Input from the store's view of the conflict and maps
// the Resolution back to what the store applies.
func (ep *entityPlan) resolver() store.Resolver {
	return func(ent *sdk.Entity, c store.Conflict) (store.Outcome, error) {
		ch := c.Change
		in := conflict.Input{
			Entity:        ent,
			LocalOp:       ch.Op,
			Base:          ch.Base,
			Local:         ch.Values,
			Changed:       ch.Fields,
			Remote:        c.Remote,
			LocalModified: ch.UpdatedAt,
		}
		if ch.Values == nil {
			in.LocalOp = sdk.OpDelete
		}
		if in.Changed == nil && ch.Values != nil {
			for f, v := range ch.Values {
				if !v.IsNull() {
					in.Changed = append(in.Changed, f)
				}
			}
		}
		if mf := ep.cfg.ModifiedField; mf != "" && c.Remote != nil {
			if v, ok := c.Remote.Values[mf]; ok && v.Kind() == sdk.KindInt {
				in.RemoteModified = time.UnixMicro(v.Int())
			}
		}
		res, err := ep.policy.Resolve(in)
		if err != nil {
			return store.Outcome{}, err
		}
		out := store.Outcome{Policy: ep.policy.Name(), Reason: res.Reason}
		switch {
		case res.Decision == conflict.TakeRemote:
			out.Kind = store.KeepRemote
		case res.Decision == conflict.Manual:
			out.Kind = store.Park
		case res.Decision != conflict.TakeLocal && res.Decision != conflict.Merge:
			return out, fmt.Errorf("policy %s answered %s", ep.policy.Name(), res.Decision)
		case res.Delete:
			// The device's delete wins: it is sent against the server's version.
			out.Kind = store.KeepLocal
		default:
			// The device keeps Values (for device-wins: the server's row with
			// the device's changes on top) and sends the Push fields.
			out.Kind = store.Merged
			out.Values = res.Values
			out.Push = res.Push
			if res.PushOp == 0 || out.Push == nil {
				out.Push = []string{}
			}
		}
		return out, nil
	}
}
