package wire

import (
	"github.com/fieldsync/fieldsync/sdk"
	pb "github.com/fieldsync/fieldsync/sdk/proto/pluginv1"
)

// DocumentToPB converts a document's metadata.
func DocumentToPB(d *sdk.Document) *pb.Document {
	return &pb.Document{
		Id: d.ID, Entity: d.Entity, RecordId: d.RecordID, Name: d.Name, MimeType: d.MimeType,
		Size: d.Size, ModifiedUnixMicro: unixMicro(d.Modified), Version: d.Version,
	}
}

// DocumentFromPB is DocumentToPB's inverse.
func DocumentFromPB(d *pb.Document) sdk.Document {
	return sdk.Document{
		ID: d.Id, Entity: d.Entity, RecordID: d.RecordId, Name: d.Name, MimeType: d.MimeType,
		Size: d.Size, Modified: timeFromMicro(d.ModifiedUnixMicro), Version: d.Version,
	}
}

// DocumentQueryToPB converts a document listing request.
func DocumentQueryToPB(q sdk.DocumentQuery) *pb.DocumentQuery {
	return &pb.DocumentQuery{Entity: q.Entity, RecordIds: q.RecordIDs, Cursor: q.Cursor, PageSize: clampInt32(q.PageSize)}
}

// DocumentQueryFromPB is DocumentQueryToPB's inverse.
func DocumentQueryFromPB(q *pb.DocumentQuery) sdk.DocumentQuery {
	return sdk.DocumentQuery{Entity: q.Entity, RecordIDs: q.RecordIds, Cursor: q.Cursor, PageSize: int(q.PageSize)}
}

// DocumentPageToPB converts one page of a document listing.
func DocumentPageToPB(p *sdk.DocumentPage) *pb.DocumentPage {
	out := &pb.DocumentPage{Cursor: p.Cursor, Last: p.Last, Documents: make([]*pb.Document, len(p.Documents))}
	for i := range p.Documents {
		out.Documents[i] = DocumentToPB(&p.Documents[i])
	}
	return out
}

// DocumentPageFromPB is DocumentPageToPB's inverse.
func DocumentPageFromPB(p *pb.DocumentPage) *sdk.DocumentPage {
	out := &sdk.DocumentPage{Cursor: p.Cursor, Last: p.Last, Documents: make([]sdk.Document, len(p.Documents))}
	for i, d := range p.Documents {
		out.Documents[i] = DocumentFromPB(d)
	}
	return out
}
