package emulator

import (
	"crypto/rand"
	"strings"
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// idSuffix is the documented case checksum of a 15-character id: for each
// 5-character chunk, a bit per upper-case letter, indexing A-Z0-5.
func idSuffix(id15 string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
	var out [3]byte
	for chunk := range 3 {
		n := 0
		for i := range 5 {
			c := id15[chunk*5+i]
			if c >= 'A' && c <= 'Z' {
				n |= 1 << i
			}
		}
		out[chunk] = alphabet[n]
	}
	return string(out[:])
}

// newID returns a random 18-character id with the object's key prefix.
func newID(prefix string) string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	id := make([]byte, 0, 18)
	id = append(id, prefix...)
	for _, c := range b {
		id = append(id, base62[int(c)%62])
	}
	return string(id) + idSuffix(string(id))
}

// seqID returns the n-th seeded id of a prefix: ids ascend with n, so a
// seed inserts in key order.
func seqID(prefix string, n uint64) string {
	var body [12]byte
	body[0], body[1] = '0', 'S'
	for i := 11; i >= 2; i-- {
		body[i] = base62[n%62]
		n /= 62
	}
	id := prefix + string(body[:])
	return id + idSuffix(id)
}

// normID checks an id (15 or 18 characters, letters and digits) and
// returns its 18-character form.
func normID(s string) (string, bool) {
	if len(s) != 15 && len(s) != 18 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(base62, s[i]) < 0 {
			return "", false
		}
	}
	want := idSuffix(s[:15])
	if len(s) == 18 {
		if !strings.EqualFold(s[15:], want) {
			return "", false
		}
	}
	return s[:15] + want, true
}
