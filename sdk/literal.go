package sdk

// Checks of literal values that every connector and translator needs the
// same way, kept here once.

// IsGUID reports whether s is a GUID in canonical 8-4-4-4-12 hex form, in
// either case (no braces, no spaces).
func IsGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// IsPlainDecimal reports whether s is a plain decimal number: an optional
// sign, digits, and optionally a point followed by more digits ("-12.50",
// "+3"; not "1e5", ".5" or "5.").
func IsPlainDecimal(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	intPart, frac, dot := cutByte(s, '.')
	return intPart != "" && allDigits(intPart) && (!dot || frac != "" && allDigits(frac))
}

func cutByte(s string, sep byte) (before, after string, found bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
