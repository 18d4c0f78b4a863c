package emulator

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Note documents in blocks (Microsoft: "Use file data with Attachment and
// Note records"): InitializeAnnotationBlocksUpload → UploadBlock (each ≤ 4
// MB) → CommitAnnotationBlocksUpload, and InitializeAnnotationBlocksDownload
// → DownloadBlock. Blocks wait in _upload_block; the commit sizes the note's
// documentbody as a zero blob and writes the blocks into it one at a time
// through incremental blob I/O, and downloads read ranges the same way, so
// a large document is never held whole in memory.

const maxBlockSize = 4 << 20

// actions are the unbound actions the emulator implements.
var actions = map[string]func(*call, http.ResponseWriter, *http.Request) error{
	"InitializeAnnotationBlocksUpload":   (*call).initUpload,
	"UploadBlock":                        (*call).uploadBlock,
	"CommitAnnotationBlocksUpload":       (*call).commitUpload,
	"InitializeAnnotationBlocksDownload": (*call).initDownload,
	"DownloadBlock":                      (*call).downloadBlock,
}

func newJSONDecoder(r io.Reader) *json.Decoder {
	d := json.NewDecoder(r)
	d.UseNumber()
	return d
}

// actionBody reads an action's parameters; Target (an annotation) is
// decoded as an entity body.
type actionParams struct {
	target                *fieldSet
	blockID, blockData    string
	token                 string
	blockList             []string
	offset, length        int64
	hasOffset, hasLength  bool
	targetType, targetKey string
}

func (k *call) readAction(r *http.Request, limit int64) (*actionParams, error) {
	ann := model["annotation"]
	lr := &io.LimitedReader{R: r.Body, N: limit + 1}
	dec := newJSONDecoder(lr)
	p := &actionParams{}
	bad := func(msg string) error { return badRequest(codeInvalidArgument, msg) }
	t, err := dec.Token()
	if d, ok := t.(json.Delim); err != nil || !ok || d != '{' {
		return nil, bad("The action's parameters must be a JSON object.")
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, bad("The action's parameters are not valid JSON.")
		}
		key, _ := t.(string)
		switch key {
		case "Target":
			fs, err := k.decodeEntity(ann, dec)
			if err != nil {
				return nil, err
			}
			p.target = fs
		case "BlockList":
			if err := dec.Decode(&p.blockList); err != nil {
				return nil, bad("BlockList must be an array of strings.")
			}
		case "BlockId", "BlockData", "FileContinuationToken":
			var s string
			if err := dec.Decode(&s); err != nil {
				return nil, bad(key + " must be a string.")
			}
			switch key {
			case "BlockId":
				p.blockID = s
			case "BlockData":
				p.blockData = s
			default:
				p.token = s
			}
		case "Offset", "BlockLength":
			var n json.Number
			if err := dec.Decode(&n); err != nil {
				return nil, bad(key + " must be a number.")
			}
			v, err := strconv.ParseInt(string(n), 10, 64)
			if err != nil || v < 0 {
				return nil, bad(key + " must be a non-negative whole number.")
			}
			if key == "Offset" {
				p.offset, p.hasOffset = v, true
			} else {
				p.length, p.hasLength = v, true
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, bad("The action's parameters are not valid JSON.")
			}
			return nil, bad(fmt.Sprintf("The action has no parameter '%s'.", key))
		}
	}
	if lr.N <= 0 {
		return nil, &apiError{Status: 413, Code: codeFileTooBig, Message: "The request body is larger than the emulator accepts."}
	}
	return p, nil
}

func (k *call) writeActionResult(w http.ResponseWriter, complexType string, fields ...any) {
	b := []byte(`{"@odata.context":`)
	b = appendJSONString(b, k.base+APIPath+"$metadata#Microsoft.Dynamics.CRM."+complexType)
	for i := 0; i+1 < len(fields); i += 2 {
		b = append(b, ',')
		b = appendJSONString(b, fields[i].(string))
		b = append(b, ':')
		switch v := fields[i+1].(type) {
		case string:
			b = appendJSONString(b, v)
		case int64:
			b = strconv.AppendInt(b, v, 10)
		}
	}
	b = append(b, '}')
	odataHeaders(w.Header())
	w.Write(b)
}

func (k *call) initUpload(w http.ResponseWriter, r *http.Request) error {
	p, err := k.readAction(r, 1<<20)
	if err != nil {
		return err
	}
	if p.target == nil || p.target.id == "" {
		return badRequest(codeInvalidArgument, "Target must be an annotation with an annotationid.")
	}
	var raw [24]byte
	rand.Read(raw[:])
	token := base64.RawURLEncoding.EncodeToString(raw[:])
	err = k.write(func(c *conn) error {
		return c.exec(`INSERT INTO _upload (token, entity, id, userid, createdon) VALUES (?1, 'annotation', ?2, ?3, ?4)`,
			token, p.target.id, k.user.userID, k.s.now().UnixMicro())
	})
	if err != nil {
		return err
	}
	k.writeActionResult(w, "InitializeAnnotationBlocksUploadResponse", "FileContinuationToken", token)
	return nil
}

// upload returns the id of the note an upload token belongs to.
func (k *call) upload(c *conn, token string) (string, error) {
	id, ok, err := c.queryText(`SELECT id FROM _upload WHERE token = ?1 AND userid = ?2`, token, k.user.userID)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", badRequest(codeInvalidArgument, "The FileContinuationToken is not valid or has been used.")
	}
	return id, nil
}

func (k *call) uploadBlock(w http.ResponseWriter, r *http.Request) error {
	p, err := k.readAction(r, int64(base64.StdEncoding.EncodedLen(maxBlockSize))+1<<16)
	if err != nil {
		return err
	}
	id, err := base64.StdEncoding.DecodeString(p.blockID)
	if err != nil || len(id) == 0 || len(id) > 64 {
		return badRequest(codeInvalidArgument, "BlockId must be base64 of at most 64 bytes.")
	}
	data, err := base64.StdEncoding.DecodeString(p.blockData)
	if err != nil {
		return badRequest(codeInvalidArgument, "BlockData is not valid base64.")
	}
	if len(data) > maxBlockSize {
		return badRequest(codeInvalidArgument, fmt.Sprintf("A block holds at most %d bytes; this one has %d.", maxBlockSize, len(data)))
	}
	err = k.write(func(c *conn) error {
		if _, err := k.upload(c, p.token); err != nil {
			return err
		}
		return c.exec(`INSERT OR REPLACE INTO _upload_block (token, blockid, data) VALUES (?1, ?2, ?3)`, p.token, p.blockID, data)
	})
	if err != nil {
		return err
	}
	w.Header().Set("OData-Version", "4.0")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (k *call) commitUpload(w http.ResponseWriter, r *http.Request) error {
	p, err := k.readAction(r, 8<<20)
	if err != nil {
		return err
	}
	if p.target == nil {
		return badRequest(codeInvalidArgument, "Target must be the annotation being uploaded.")
	}
	if len(p.blockList) == 0 {
		return badRequest(codeInvalidArgument, "BlockList must name the uploaded blocks in order.")
	}
	ann := model["annotation"]
	var id string
	var size int64
	err = k.write(func(c *conn) error {
		if id, err = k.upload(c, p.token); err != nil {
			return err
		}
		if p.target.id != "" && p.target.id != id {
			return badRequest(codeInvalidArgument, "Target's annotationid is not the one the upload was initialized for.")
		}
		for _, b := range p.blockList {
			n, ok, err := c.queryInt(`SELECT length(data) FROM _upload_block WHERE token = ?1 AND blockid = ?2`, p.token, b)
			if err != nil {
				return err
			}
			if !ok {
				return badRequest(codeInvalidArgument, fmt.Sprintf("The block '%s' was not uploaded.", b))
			}
			size += n
		}
		if int64(base64.StdEncoding.EncodedLen(int(size))) > k.s.opts.MaxUploadFileSize {
			return badRequest(codeFileTooBig, "Attachment file size is too big.")
		}
		fs := p.target
		fs.set("documentbody", zeroBlob(size))
		fs.set("filesize", size)
		fs.set("isdocument", size > 0)
		fs.attrs["documentbody"] = false // sizes are set here, not derived
		_, exists, err := rowVersion(c, ann, id)
		if err != nil {
			return err
		}
		if exists {
			_, err = k.updateRow(c, ann, id, fs)
		} else {
			_, err = k.insertRow(c, ann, id, fs)
		}
		if err != nil {
			return err
		}
		rowid, _, err := c.queryInt(`SELECT rowid FROM annotation WHERE annotationid = ?1`, id)
		if err != nil {
			return err
		}
		blob, err := c.db.OpenBlob("main", "annotation", "documentbody", rowid, true)
		if err != nil {
			return err
		}
		defer blob.Close()
		for _, b := range p.blockList {
			st, err := c.prep(`SELECT data FROM _upload_block WHERE token = ?1 AND blockid = ?2`)
			if err != nil {
				return err
			}
			bindAll(st, []any{p.token, b})
			if !st.Step() {
				err := st.Err()
				st.Reset()
				return fmt.Errorf("block %s vanished: %v", b, err)
			}
			_, err = blob.Write(st.ColumnRawBlob(0))
			st.Reset()
			if err != nil {
				return err
			}
		}
		if err := c.exec(`DELETE FROM _upload_block WHERE token = ?1`, p.token); err != nil {
			return err
		}
		return c.exec(`DELETE FROM _upload WHERE token = ?1`, p.token)
	})
	if err != nil {
		return err
	}
	k.writeActionResult(w, "CommitAnnotationBlocksUploadResponse", "AnnotationId", id, "FileSizeInBytes", size)
	return nil
}

// Download tokens are stateless: "<annotationid>.<mac>", the MAC keyed by
// the server so a token cannot be forged for another note.
func (k *call) downloadToken(id string) string {
	m := hmac.New(sha256.New, k.s.key)
	m.Write([]byte("download:" + id + ":" + k.user.userID))
	return id + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

func (k *call) checkDownloadToken(tok string) (string, bool) {
	id, _, ok := strings.Cut(tok, ".")
	if !ok {
		return "", false
	}
	return id, hmac.Equal([]byte(k.downloadToken(id)), []byte(tok))
}

func (k *call) initDownload(w http.ResponseWriter, r *http.Request) error {
	p, err := k.readAction(r, 1<<20)
	if err != nil {
		return err
	}
	if p.target == nil || p.target.id == "" {
		return badRequest(codeInvalidArgument, "Target must be an annotation with an annotationid.")
	}
	c, err := k.conn()
	if err != nil {
		return err
	}
	st, err := c.prep(`SELECT filename, length(documentbody) FROM annotation WHERE annotationid = ?1`)
	if err != nil {
		return err
	}
	defer st.Reset()
	st.BindText(1, p.target.id)
	if !st.Step() {
		if err := st.Err(); err != nil {
			return err
		}
		return notFound(model["annotation"], p.target.id)
	}
	name, size := st.ColumnText(0), st.ColumnInt64(1)
	k.writeActionResult(w, "InitializeAnnotationBlocksDownloadResponse",
		"FileName", name, "FileSizeInBytes", size, "FileContinuationToken", k.downloadToken(p.target.id))
	return nil
}

func (k *call) downloadBlock(w http.ResponseWriter, r *http.Request) error {
	p, err := k.readAction(r, 1<<20)
	if err != nil {
		return err
	}
	id, ok := k.checkDownloadToken(p.token)
	if !ok {
		return badRequest(codeInvalidArgument, "The FileContinuationToken is not valid.")
	}
	if !p.hasLength || p.length == 0 || p.length > maxBlockSize {
		return badRequest(codeInvalidArgument, fmt.Sprintf("BlockLength must be 1 to %d bytes.", maxBlockSize))
	}
	c, err := k.conn()
	if err != nil {
		return err
	}
	rowid, found, err := c.queryInt(`SELECT rowid FROM annotation WHERE annotationid = ?1 AND documentbody IS NOT NULL`, id)
	if err != nil {
		return err
	}
	if !found {
		return notFound(model["annotation"], id)
	}
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	bw.WriteString(`{"@odata.context":`)
	bw.Write(appendJSONString(nil, k.base+APIPath+"$metadata#Microsoft.Dynamics.CRM.DownloadBlockResponse"))
	bw.WriteString(`,"Data":"`)
	if err := streamBase64(bw, c.db, "annotation", "documentbody", rowid, p.offset, p.length); err != nil {
		return err
	}
	bw.WriteString(`"}`)
	bw.Flush()
	odataHeaders(w.Header())
	w.Write(buf.Bytes())
	return nil
}
