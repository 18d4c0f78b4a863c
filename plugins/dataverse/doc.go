// Package dataverse will be the Microsoft Dataverse connector: Web API
// (OData v4) change tracking and $batch uploads, a TDS downloader on
// go-mssqldb for large initial reads, and an emulator of both endpoints for
// offline development. It ships as a subprocess plugin (TDS needs sockets).
//
// Nothing is implemented yet; see README.md for the plan.
package dataverse
