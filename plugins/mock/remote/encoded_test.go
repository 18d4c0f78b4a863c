package remote

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/fieldsync/fieldsync/sdk"
	pb "github.com/fieldsync/fieldsync/sdk/proto/pluginv1"
	"github.com/fieldsync/fieldsync/sdk/wire"
)

func encodedSeed(last bool) []byte {
	b := sdk.NewPageBuilder([]string{"name", "n"}, []sdk.FieldType{sdk.TypeString, sdk.TypeInt})
	b.Add("id-1", "7", sdk.String("a"), sdk.Int(1))
	b.Add("id-2", "8", sdk.Null(), sdk.Int(2))
	b.Delete("gone")
	p := b.Page()
	p.Cursor = []byte("cursor-after-2")
	if last {
		p.Last, p.Token = true, []byte("token-9")
	}
	out, _ := proto.Marshal(wire.PageToPB(p))
	return out
}

func TestEncodedPage(t *testing.T) {
	for _, last := range []bool{false, true} {
		raw := encodedSeed(last)
		p, err := encodedPage(raw)
		if err != nil {
			t.Fatal(err)
		}
		if string(p.Cursor) != "cursor-after-2" || p.Last != last || (last && string(p.Token) != "token-9") || (!last && p.Token != nil) {
			t.Fatalf("cursor %q last %v token %q", p.Cursor, p.Last, p.Token)
		}
		if p.Len() != 0 || !bytes.Equal(p.Encoded, raw) {
			t.Fatal("a forwarded page must carry its bytes and nothing decoded")
		}
		raw[0] ^= 0xff // the page owns a copy
		if bytes.Equal(p.Encoded, raw) {
			t.Fatal("the page shares the frame's buffer")
		}
		// What the host does with it: decode the whole page.
		var m pb.Page
		if err := proto.Unmarshal(p.Encoded, &m); err != nil {
			t.Fatal(err)
		}
		back, err := wire.PageFromPB(&m)
		if err != nil || back.Len() != 2 || back.Deletes[0] != "gone" {
			t.Fatalf("decoded %+v %v", back, err)
		}
	}
	if _, err := encodedPage([]byte{0x32, 0x05, 'a'}); err == nil {
		t.Fatal("a truncated cursor field was accepted")
	}
}

func FuzzEncodedPage(f *testing.F) {
	f.Add(encodedSeed(false))
	f.Add(encodedSeed(true))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := encodedPage(data)
		if err != nil {
			return
		}
		if !bytes.Equal(p.Encoded, data) {
			t.Fatal("the bytes changed")
		}
	})
}
