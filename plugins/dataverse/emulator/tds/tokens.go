package tds

import (
	"encoding/binary"
	"strconv"
)

// Token types (MS-TDS 2.2.7).
const (
	tokReturnStatus  = 0x79
	tokColMetadata   = 0x81
	tokError         = 0xAA
	tokInfo          = 0xAB
	tokLoginAck      = 0xAD
	tokFeatureExtAck = 0xAE
	tokRow           = 0xD1
	tokNBCRow        = 0xD2
	tokEnvChange     = 0xE3
	tokDone          = 0xFD
	tokDoneProc      = 0xFE
	tokDoneInProc    = 0xFF
)

// DONE status bits and commands.
const (
	doneFinal = 0x00
	doneMore  = 0x01
	doneError = 0x02
	doneCount = 0x10
	doneAttn  = 0x20

	cmdSelect  = 0xC1
	cmdExecute = 0xE0
)

// ENVCHANGE types.
const (
	envDatabase   = 1
	envLanguage   = 2
	envPacketSize = 4
	envCollation  = 7
	envResetAck   = 18
)

func appendDone(b []byte, tok byte, status, cmd uint16, rows uint64) []byte {
	b = append(b, tok)
	b = binary.LittleEndian.AppendUint16(b, status)
	b = binary.LittleEndian.AppendUint16(b, cmd)
	return binary.LittleEndian.AppendUint64(b, rows)
}

// appendError appends an ERROR (or, with tok tokInfo, an INFO) token.
func appendError(b []byte, tok byte, e *Error, server string) []byte {
	var body []byte
	body = binary.LittleEndian.AppendUint32(body, uint32(e.Number))
	class := e.Class
	if class == 0 {
		class = 16
	}
	state := e.State
	if state == 0 {
		state = 1
	}
	body = append(body, state, class)
	body = appendUSVarChar(body, e.Message)
	body = appendBVarChar(body, server)
	body = appendBVarChar(body, "")
	body = binary.LittleEndian.AppendUint32(body, 1) // line
	b = append(b, tok)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(body)))
	return append(b, body...)
}

func appendEnvChange(b []byte, typ byte, newVal, oldVal []byte) []byte {
	b = append(b, tokEnvChange)
	b = binary.LittleEndian.AppendUint16(b, uint16(1+len(newVal)+len(oldVal)))
	b = append(b, typ)
	b = append(b, newVal...)
	return append(b, oldVal...)
}

func bVarChar(s string) []byte { return appendBVarChar(nil, s) }

// appendLoginAck appends LOGINACK: interface T-SQL, TDS 7.4, the program
// name and version SQL Azure reports.
func appendLoginAck(b []byte) []byte {
	var body []byte
	body = append(body, 1)                                 // SQL_TSQL
	body = binary.BigEndian.AppendUint32(body, 0x74000004) // TDS 7.4
	body = appendBVarChar(body, "Microsoft SQL Server")
	body = append(body, serverVersion[:]...)
	b = append(b, tokLoginAck)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(body)))
	return append(b, body...)
}

// appendFeatureExtAck acknowledges FEDAUTH (no nonce, so no data).
func appendFeatureExtAck(b []byte) []byte {
	b = append(b, tokFeatureExtAck, featFedAuth)
	b = binary.LittleEndian.AppendUint32(b, 0)
	return append(b, featTerminator)
}

func appendColMetadata(b []byte, cols []Column) []byte {
	b = append(b, tokColMetadata)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(cols)))
	for i := range cols {
		c := &cols[i]
		b = binary.LittleEndian.AppendUint32(b, 0) // UserType
		var flags uint16
		if c.Nullable {
			flags |= 0x0001
		}
		b = binary.LittleEndian.AppendUint16(b, flags)
		b = c.appendTypeInfo(b)
		b = appendBVarChar(b, c.Name)
	}
	return b
}

// appendRow appends one row: NBCROW when a value is null (nulls are then
// only marked in the bitmap), else ROW.
func appendRow(b []byte, cols []Column, vals []any) ([]byte, error) {
	hasNull := false
	for _, v := range vals {
		if v == nil {
			hasNull = true
			break
		}
	}
	var err error
	if !hasNull {
		b = append(b, tokRow)
		for i := range cols {
			if b, err = cols[i].appendValue(b, vals[i]); err != nil {
				return nil, err
			}
		}
		return b, nil
	}
	b = append(b, tokNBCRow)
	bitmap := len(b)
	b = append(b, make([]byte, (len(cols)+7)/8)...)
	for i := range cols {
		if vals[i] == nil {
			b[bitmap+i/8] |= 1 << (i % 8)
			continue
		}
		if b, err = cols[i].appendValue(b, vals[i]); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func packetSizeText(n int) []byte { return bVarChar(strconv.Itoa(n)) }
