// Package rescocloud will be the Resco Cloud connector: the REST data
// service (WhoAmI, GetMaxRowVersion, Fetch with FetchXML, the Multiple write
// calls) with row-version change detection, shipped as a WASM plugin by
// default, and an emulator of the data service.
//
// Nothing is implemented yet; see README.md for the plan.
package rescocloud
