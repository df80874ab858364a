package e2e

import (
	"bufio"
	"context"
	"mime"
	"net/mail"
	"strings"
	"testing"
	"time"

	"passerelle/app"
	"passerelle/ent/habilitation"
	"passerelle/ent/user"
	"passerelle/notify"
	"passerelle/notify/notifytest"
	"passerelle/viewer"
)

// TestEmailNotification: the server configured with a mail server e-mails
// the receiving physician who opted in when a request is sent to their unit
// — through the real pieces: GraphQL, the workflow's events, the notifier's
// passes, net/smtp.
func TestEmailNotification(t *testing.T) {
	addr, got := notifytest.Sink(t)
	e := serveWith(t, t, nil, func(c *app.Config) {
		c.Notify = notify.Config{Sender: notify.SMTP{Addr: addr, From: "Passerelle <ne-pas-repondre@passerelle.example.org>"},
			Interval: 20 * time.Millisecond, PublicURL: "https://passerelle.example.org"}
	})
	sys := viewer.AllowWrites(viewer.System(context.Background()))
	if _, err := e.app.DB.Client.Habilitation.Update().Where(habilitation.HasUserWith(user.Email(perineDoctor))).
		SetEmailNotifications(true).Save(sys); err != nil {
		t.Fatal(err)
	}
	// The notifications start with the events after their first pass.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if n, _ := e.app.DB.Client.NotificationCursor.Query().Count(sys); n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the notifier made no first pass")
		}
	}

	id, _ := e.sentRequest(e.unitID("USP Sainte-Périne"))
	ref := str(e.must(prescriber, "Request", map[string]any{"id": id}), "node.reference")
	var raw string
	select {
	case raw = <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("no e-mail reached the mail server")
	}
	msg, err := mail.ReadMessage(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if msg.Header.Get("To") != perineDoctor || !strings.Contains(subject, ref) {
		t.Errorf("e-mail to %q about %q, want %q about %s", msg.Header.Get("To"), subject, perineDoctor, ref)
	}
	// One e-mail in all: nobody else opted in, and the other events of the
	// request call for none (the pass that prepared it wrote every e-mail of
	// its events at once).
	if n := e.app.DB.Client.Notification.Query().CountX(sys); n != 1 {
		t.Errorf("%d e-mails prepared, want 1", n)
	}
}
