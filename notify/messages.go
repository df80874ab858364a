package notify

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
	"text/template"
)

//go:embed messages.fr.json
var messagesJSON []byte

// mailText is one kind of e-mail: its subject and body templates.
type mailText struct {
	subject, body *template.Template
}

// fields are what a message may say.
type fields struct {
	Reference string // the request's reference, USP-2026-000123
	Unit      string // the receiving unit's name
	Origin    string // the requesting structure's name
	Status    string // the dispatch status's French label
	Reason    string // the French label of the event's reason, if any
	When      string // when it happened, Paris time
	Link      string // the server's public address, if configured
	Profile   string // the French label of the recipient's profile
	// An expiring habilitation: its holder, its profile's label, its end.
	Holder, HolderProfile, Until string
}

var messages, footer, withdrawalReasons = mustParseMessages(messagesJSON)

func mustParseMessages(data []byte) (map[string]mailText, *template.Template, map[string]string) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		panic(fmt.Sprintf("notify: messages.fr.json: %v", err))
	}
	out := map[string]mailText{}
	var foot *template.Template
	withdrawal := map[string]string{}
	for kind, v := range raw {
		switch kind {
		case "_comment":
			continue
		case "withdrawal":
			if err := json.Unmarshal(v, &withdrawal); err != nil {
				panic(fmt.Sprintf("notify: withdrawal reasons: %v", err))
			}
			continue
		case "footer":
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				panic(fmt.Sprintf("notify: footer: %v", err))
			}
			foot = template.Must(template.New("footer").Option("missingkey=error").Parse(s))
			continue
		}
		var m struct{ Subject, Body string }
		if err := json.Unmarshal(v, &m); err != nil || m.Subject == "" || m.Body == "" {
			panic(fmt.Sprintf("notify: message %s: want a subject and a body (%v)", kind, err))
		}
		out[kind] = mailText{
			subject: template.Must(template.New(kind + ".subject").Option("missingkey=error").Parse(m.Subject)),
			body:    template.Must(template.New(kind + ".body").Option("missingkey=error").Parse(m.Body)),
		}
	}
	if foot == nil {
		panic("notify: messages.fr.json has no footer")
	}
	return out, foot, withdrawal
}

// render writes the e-mail of a kind.
func render(kind string, f fields) (subject, body string, err error) {
	m, ok := messages[kind]
	if !ok {
		return "", "", fmt.Errorf("notify: no message for %s", kind)
	}
	var s, b bytes.Buffer
	if err := m.subject.Execute(&s, f); err != nil {
		return "", "", err
	}
	if err := m.body.Execute(&b, f); err != nil {
		return "", "", err
	}
	if err := footer.Execute(&b, f); err != nil {
		return "", "", err
	}
	// A subject is one line.
	return strings.Join(strings.Fields(s.String()), " "), b.String(), nil
}
