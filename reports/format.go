package reports

import (
	"math"
	"strconv"
	"strings"
)

// slug makes s safe and stable as part of a file name.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
		if !ok || r == '-' {
			if !dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = true
			continue
		}
		b.WriteRune(r)
		dash = false
	}
	out := strings.TrimRight(b.String(), "-")
	if out == "" {
		return "x"
	}
	return out
}

// formatSI writes x with three significant digits and a k, M or G suffix:
// 1234 → "1.23k", 56789 → "56.8k", 12 → "12".
func formatSI(x float64) string {
	if x == 0 {
		return "0"
	}
	for _, u := range []struct {
		div    float64
		suffix string
	}{{1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
		if math.Abs(x) >= u.div*0.9995 {
			return sig3(x/u.div) + u.suffix
		}
	}
	return sig3(x)
}

// trimZeros drops trailing zeros after a decimal point: "5.00k" → "5k",
// "2.50" → "2.5". Tick labels read better without them.
func trimZeros(s string) string {
	num := strings.TrimRight(s, "kMG")
	suffix := s[len(num):]
	if strings.Contains(num, ".") {
		num = strings.TrimRight(strings.TrimRight(num, "0"), ".")
	}
	return num + suffix
}

// sig3 formats x with three significant digits, no exponent.
func sig3(x float64) string {
	a := math.Abs(x)
	switch {
	case a >= 99.95:
		return strconv.FormatFloat(x, 'f', 0, 64)
	case a >= 9.995:
		return strconv.FormatFloat(x, 'f', 1, 64)
	case a >= 0.9995 || a == 0:
		return strconv.FormatFloat(x, 'f', 2, 64)
	}
	return strconv.FormatFloat(x, 'g', 3, 64)
}

// formatPlain writes x in full with thousands separators: 10000 → "10,000";
// fractions keep up to three significant digits.
func formatPlain(x float64) string {
	if math.Abs(x) < 1 {
		return strconv.FormatFloat(x, 'g', 3, 64)
	}
	s := strconv.FormatFloat(math.Round(x), 'f', 0, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// formatBytes writes a size in binary units with three significant
// digits: 0 → "0", 1536 → "1.50 KiB", 3<<30 → "3.00 GiB".
func formatBytes(n int64) string {
	x := float64(n)
	for _, u := range []string{"B", "KiB", "MiB", "GiB"} {
		if math.Abs(x) < 1024 || u == "GiB" {
			if u == "B" {
				return strconv.FormatInt(n, 10) + " B"
			}
			return sig3(x) + " " + u
		}
		x /= 1024
	}
	return ""
}
