package workflow

// Pallia10 reads the PALLIA-10 answers (item 1, an incurable disease,
// first): yes is how many are yes; suggests, whether they suggest calling on
// a specialised palliative team — item 1 is its prerequisite, then 3 or more
// yes (domain brief, the medical section). ok is false without the ten
// answers.
func Pallia10(answers []bool) (yes int, suggests, ok bool) {
	if len(answers) != 10 {
		return 0, false, false
	}
	for _, a := range answers {
		if a {
			yes++
		}
	}
	return yes, answers[0] && yes >= 3, true
}
