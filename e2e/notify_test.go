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
	"passerelle/ent/notification"
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
		// An hour between passes: the e-mail goes out because the send's
		// events wake the notifier (notify.Config.Events), not by polling.
		c.Notify = notify.Config{Sender: notify.SMTP{Addr: addr, From: "Passerelle <ne-pas-repondre@passerelle.example.org>"},
			Interval: time.Hour, PublicURL: "https://passerelle.example.org"}
	})
	sys := optInAfterFirstPass(t, e, perineDoctor)

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

// TestEmailNotificationsAcrossInstances: two instances on one PostgreSQL
// database, both with notifications on, one mail server: each request sent
// (one through each instance) gives the opted-in physician one e-mail, not
// one per instance.
func TestEmailNotificationsAcrossInstances(t *testing.T) {
	url := miDatabase(t)
	addr, got := notifytest.Sink(t)
	mailing := func(c *app.Config) {
		c.Notify = notify.Config{Sender: notify.SMTP{Addr: addr, From: "Passerelle <ne-pas-repondre@passerelle.example.org>"},
			Interval: 10 * time.Millisecond}
	}
	a := miInstanceWith(t, url, "passerelle-listener-a", 100*time.Millisecond, mailing)
	b := miInstanceWith(t, url, "passerelle-listener-b", 100*time.Millisecond, mailing)
	sys := optInAfterFirstPass(t, a, perineDoctor)
	perine := a.unitID("USP Sainte-Périne")
	a.sentRequest(perine)
	b.sentRequest(perine)
	for i := range 2 {
		select {
		case <-got:
		case <-time.After(30 * time.Second):
			t.Fatalf("%d e-mails of 2 reached the mail server", i)
		}
	}
	// Every e-mail prepared is sent; then both instances stop (Close waits
	// for a pass in progress): whatever either sent is in the sink by now.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if n, _ := a.app.DB.Client.Notification.Query().Where(notification.SentAtIsNil()).Count(sys); n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("e-mails left unsent")
		}
	}
	if n := a.app.DB.Client.Notification.Query().CountX(sys); n != 2 {
		t.Errorf("%d e-mails prepared for two requests, want 2", n)
	}
	a.app.Notifier.Close()
	b.app.Notifier.Close()
	select {
	case extra := <-got:
		t.Errorf("an e-mail sent twice:\n%s", extra)
	default:
	}
}

// optInAfterFirstPass turns the e-mails on for an account's habilitations
// and waits for the notifiers' first pass (the notifications start with the
// events after it); it returns the system's writing context.
func optInAfterFirstPass(t *testing.T, e *env, email string) context.Context {
	t.Helper()
	sys := viewer.AllowWrites(viewer.System(context.Background()))
	if _, err := e.app.DB.Client.Habilitation.Update().Where(habilitation.HasUserWith(user.Email(email))).
		SetEmailNotifications(true).Save(sys); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if n, _ := e.app.DB.Client.NotificationCursor.Query().Count(sys); n == 1 {
			return sys
		}
		if time.Now().After(deadline) {
			t.Fatal("the notifier made no first pass")
		}
	}
}
