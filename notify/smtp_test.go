package notify

import (
	"bufio"
	"context"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"

	"passerelle/notify/notifytest"
)

// TestSMTPSend sends through net/smtp to the sink and reads the message
// back as a mail client would: French subject and body intact.
func TestSMTPSend(t *testing.T) {
	addr, got := notifytest.Sink(t)
	s := SMTP{Addr: addr, From: "Passerelle <ne-pas-repondre@passerelle.example.org>"}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
	m := Mail{Key: "event:1:u", To: "medecin@sainte-perine.demo",
		Subject: "Demande USP-2026-000001 : refus de l'unité « Sainte-Périne »",
		Body:    "Bonjour,\n\nL'unité a refusé ; motif : pas de lit à temps.\nUne ligne très longue " + strings.Repeat("é", 120)}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	raw := <-got
	msg, err := mail.ReadMessage(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil || subject != m.Subject {
		t.Errorf("subject %q (%v), want %q", subject, err, m.Subject)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	// The sink's dot-reader turned CRLF into LF; the SMTP transfer added the
	// message's final line end.
	if err != nil || strings.TrimSuffix(strings.ReplaceAll(string(body), "\r\n", "\n"), "\n") != m.Body {
		t.Errorf("body %q (%v), want %q", body, err, m.Body)
	}
	head, text, _ := strings.Cut(raw, "\n\n")
	for _, line := range strings.Split(head, "\n") {
		if len(line) > 998 || (strings.HasPrefix(line, " =?") && len(line) > 78) {
			t.Errorf("a header line of %d characters: %q", len(line), line)
		}
	}
	for _, line := range strings.Split(text, "\n") {
		if len(line) > 76 {
			t.Errorf("a body line of %d characters (quoted-printable keeps to 76): %q", len(line), line)
		}
	}
	if msg.Header.Get("To") != m.To || !strings.HasSuffix(msg.Header.Get("Message-Id"), "@passerelle.example.org>") {
		t.Errorf("headers: %v", msg.Header)
	}
	// The same key, the same Message-ID (a resend is recognizably the same).
	if err := s.Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	again, _ := mail.ReadMessage(bufio.NewReader(strings.NewReader(<-got)))
	if again.Header.Get("Message-Id") != msg.Header.Get("Message-Id") {
		t.Errorf("Message-ID changed between two sends of one e-mail")
	}

	for _, bad := range []SMTP{{Addr: "no-port", From: s.From}, {Addr: addr, From: "not an address"}} {
		if bad.Check() == nil {
			t.Errorf("settings %+v accepted", bad)
		}
	}
	if err := s.Send(ctx, Mail{To: "not an address", Subject: "x", Body: "y"}); err == nil {
		t.Error("a bad recipient was accepted")
	}
}
