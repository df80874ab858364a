package identity

import "testing"

func TestFoldName(t *testing.T) {
	tests := map[string]string{
		"Élodie  DUPONT-Martin":      "elodie dupont martin",
		"elodie dupont martin":       "elodie dupont martin",
		"  Jean-François   O'Brien ": "jean francois o brien",
		"N’Diaye d'Orléans":          "n diaye d orleans",
		"Cœur Lætitia":               "coeur laetitia",
		"ŒDIPE ÆLIS":                 "oedipe aelis",
		"Straße STRASSE":             "strasse strasse",
		"ẞ":                          "ss",
		"Ñúñez Çelik Øyvind Łukasz":  "nunez celik oyvind lukasz",
		"Ÿvonne Àgnès Ïsa Üma":       "yvonne agnes isa uma",
		"Þórr Ðana":                  "thorr dana",
		"Dvořák Šimon Żaneta":        "dvorak simon zaneta",
		"Ștefan Țurcan":              "stefan turcan",
		"Marie\u00a0Claire":          "marie claire",
		"Marie\u2013Claire—Anne":     "marie claire anne",
		"Marie - Claire":             "marie claire",
		"-Marie-":                    "marie",
		"''":                         "",
		"":                           "",
		"   \t\n ":                   "",
		"Zoé\u200b":                  "zoe",
		// Decomposed (NFD) input: e + U+0301, c + U+0327.
		"E\u0301lodie Franc\u0327ois": "elodie francois",
		"a \u0301 b":                  "a b",
		// Letters outside the table are only lower-cased.
		"ΣΟΦΊΑ Иван": "σοφία иван",
	}
	for in, want := range tests {
		got := FoldName(in)
		if got != want {
			t.Errorf("FoldName(%q) = %q, want %q", in, got, want)
		}
		if again := FoldName(got); again != got {
			t.Errorf("FoldName not idempotent on %q: %q then %q", in, got, again)
		}
	}
	if FoldName("Élodie  DUPONT-Martin") != FoldName("elodie dupont martin") {
		t.Error("the example names must fold equal")
	}
}

// TestFoldTableIsASCII checks that every folding target is lower-case ASCII
// (so folding is idempotent) and that every key is a lower-case letter the
// fold loop can actually see after unicode.ToLower.
func TestFoldTableIsASCII(t *testing.T) {
	for r, out := range foldTable {
		for i := 0; i < len(out); i++ {
			if out[i] < 'a' || out[i] > 'z' {
				t.Errorf("foldTable[%q] = %q is not lower-case ASCII", r, out)
			}
		}
	}
	// Every Latin-1 letter (U+00C0–U+00FF except × and ÷) folds to ASCII.
	for r := rune(0xC0); r <= 0xFF; r++ {
		if r == 0xD7 || r == 0xF7 {
			continue
		}
		got := FoldName(string(r))
		for i := 0; i < len(got); i++ {
			if got[i] >= 0x80 {
				t.Errorf("FoldName(%q) = %q is not ASCII", r, got)
			}
		}
	}
	// Every Latin Extended-A letter (U+0100–U+017F) folds to ASCII.
	for r := rune(0x100); r <= 0x17F; r++ {
		got := FoldName(string(r))
		for i := 0; i < len(got); i++ {
			if got[i] >= 0x80 {
				t.Errorf("FoldName(%q) = %q is not ASCII", r, got)
			}
		}
	}
}
