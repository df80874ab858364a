package identity

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// FoldName reduces a person's name to a comparison key for duplicate
// detection: lower-cased, accents and ligatures folded to ASCII (é→e, ç→c,
// œ→oe, æ→ae, ß→ss, ø→o, ł→l, …, covering Latin-1 and Latin Extended-A,
// plus combining accents of decomposed input), hyphens and apostrophes
// treated as spaces, white space collapsed to single spaces and trimmed.
//
//	FoldName("Élodie  DUPONT-Martin") == FoldName("elodie dupont martin") // "elodie dupont martin"
//	FoldName("N’Diaye d'Orléans")     == "n diaye d orleans"
//
// Letters outside the fold table (Greek, Cyrillic, …) are only lower-cased.
// FoldName is idempotent: FoldName(FoldName(s)) == FoldName(s). The result is
// a key, not something to display.
func FoldName(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	pendingSpace := false
	for _, r := range s {
		if isNameSeparator(r) {
			pendingSpace = b.Len() > 0
			continue
		}
		if r < utf8.RuneSelf { // ASCII fast path
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
			if pendingSpace {
				b.WriteByte(' ')
				pendingSpace = false
			}
			b.WriteByte(byte(r))
			continue
		}
		if isCombiningAccent(r) {
			continue
		}
		r = unicode.ToLower(r)
		out, ok := foldTable[r]
		if !ok {
			if pendingSpace {
				b.WriteByte(' ')
				pendingSpace = false
			}
			b.WriteRune(r)
			continue
		}
		if out == "" {
			continue
		}
		if pendingSpace {
			b.WriteByte(' ')
			pendingSpace = false
		}
		b.WriteString(out)
	}
	return b.String()
}

// isNameSeparator reports whether r separates words of a name: white space,
// hyphens and dashes, apostrophes and similar quote marks.
func isNameSeparator(r rune) bool {
	if unicode.IsSpace(r) {
		return true
	}
	switch r {
	case '-', '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2015', '\u2212', '\u00AD', // hyphens, dashes, minus, soft hyphen
		'\'', '\u2018', '\u2019', '\u201B', '\u02BC', '\u02B9', '`', '\u00B4', '\u2032', // apostrophes and look-alikes
		'_':
		return true
	}
	return false
}

// isCombiningAccent reports whether r is in the Combining Diacritical Marks
// block (U+0300–U+036F), which is how decomposed (NFD) input carries accents.
func isCombiningAccent(r rune) bool { return r >= 0x0300 && r <= 0x036F }

// foldTable maps lower-case letters to their ASCII folding. An empty string
// drops the character (zero-width characters).
var foldTable = map[rune]string{
	// Latin-1 Supplement
	'à': "a", 'á': "a", 'â': "a", 'ã': "a", 'ä': "a", 'å': "a", 'æ': "ae",
	'ç': "c",
	'è': "e", 'é': "e", 'ê': "e", 'ë': "e",
	'ì': "i", 'í': "i", 'î': "i", 'ï': "i",
	'ð': "d", 'ñ': "n",
	'ò': "o", 'ó': "o", 'ô': "o", 'õ': "o", 'ö': "o", 'ø': "o",
	'ù': "u", 'ú': "u", 'û': "u", 'ü': "u",
	'ý': "y", 'ÿ': "y", 'þ': "th", 'ß': "ss",
	// Latin Extended-A
	'ā': "a", 'ă': "a", 'ą': "a",
	'ć': "c", 'ĉ': "c", 'ċ': "c", 'č': "c",
	'ď': "d", 'đ': "d",
	'ē': "e", 'ĕ': "e", 'ė': "e", 'ę': "e", 'ě': "e",
	'ĝ': "g", 'ğ': "g", 'ġ': "g", 'ģ': "g",
	'ĥ': "h", 'ħ': "h",
	'ĩ': "i", 'ī': "i", 'ĭ': "i", 'į': "i", 'ı': "i", 'ĳ': "ij",
	'ĵ': "j", 'ķ': "k", 'ĸ': "k",
	'ĺ': "l", 'ļ': "l", 'ľ': "l", 'ŀ': "l", 'ł': "l",
	'ń': "n", 'ņ': "n", 'ň': "n", 'ŉ': "n", 'ŋ': "n",
	'ō': "o", 'ŏ': "o", 'ő': "o", 'œ': "oe",
	'ŕ': "r", 'ŗ': "r", 'ř': "r",
	'ś': "s", 'ŝ': "s", 'ş': "s", 'š': "s", 'ſ': "s",
	'ţ': "t", 'ť': "t", 'ŧ': "t",
	'ũ': "u", 'ū': "u", 'ŭ': "u", 'ů': "u", 'ű': "u", 'ų': "u",
	'ŵ': "w", 'ŷ': "y",
	'ź': "z", 'ż': "z", 'ž': "z",
	// A few frequent letters from Latin Extended-B and Additional
	'ș': "s", 'ț': "t", 'ǎ': "a", 'ǐ': "i", 'ǒ': "o", 'ǔ': "u",
	'ẁ': "w", 'ẃ': "w", 'ẅ': "w", 'ỳ': "y", 'ẽ': "e", 'ỹ': "y",
	// Zero-width characters
	'\u200B': "", '\u200C': "", '\u200D': "", '\u2060': "", '\uFEFF': "",
}
