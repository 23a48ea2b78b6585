package park

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/parkway/parkway/park/parkwire"
	"github.com/parkway/parkway/sip/dialoginfo"
	"github.com/parkway/parkway/siptest"
)

func dialogDoc(t *testing.T, body []byte) dialoginfo.Info {
	t.Helper()
	info, err := dialoginfo.Parse(body)
	if err != nil {
		t.Fatalf("NOTIFY body: %v\n%s", err, body)
	}
	return info
}

// A BLF key watching orbit 7000: dark, lit while parked, dark after retrieve,
// then a terminated NOTIFY on unsubscribe (RFC 6665, RFC 4235).
func TestSubscribeOrbitDialogEvents(t *testing.T) {
	ctx := testCtx(t)
	s := startService(t, defaultConfig(), Options{})
	p := newParties(t)
	blf := siptest.NewPhone(t, siptest.PhoneOptions{User: "blf"})
	sub, err := blf.Subscribe(ctx, uri(s, "7000"), "dialog", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	n, err := sub.NextNotify(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if ct := n.ContentType(); ct == nil || ct.Value() != dialoginfo.ContentType {
		t.Errorf("content type %v", ct)
	}
	if st := n.GetHeader("Subscription-State"); st == nil || !strings.HasPrefix(st.Value(), "active") {
		t.Errorf("Subscription-State %v", st)
	}
	first := dialogDoc(t, n.Body())
	if len(first.Dialogs) != 0 || first.Entity != "sip:7000@127.0.0.1" {
		t.Errorf("initial state %+v", first)
	}

	bp, err := parkBob(t, ctx, p, uri(s, parkwire.ParkUser))
	if err != nil {
		t.Fatal(err)
	}
	n, err = sub.NextNotify(ctx, "confirmed")
	if err != nil {
		t.Fatal(err)
	}
	lit := dialogDoc(t, n.Body())
	if len(lit.Dialogs) != 1 || !strings.Contains(lit.Dialogs[0].Remote.Identity, "bob") || lit.Version <= first.Version {
		t.Errorf("parked state %+v", lit)
	}

	cp, err := p.carol.Call(ctx, uri(s, "7000"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cp.Successor(ctx); err != nil {
		t.Fatal(err)
	}
	<-bp.Done()
	for {
		n, err = sub.NextNotify(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(dialogDoc(t, n.Body()).Dialogs) == 0 {
			break // dark again
		}
	}
	if err := sub.Unsubscribe(ctx); err != nil {
		t.Fatal(err)
	}
	for {
		n, err = sub.NextNotify(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if st := n.GetHeader("Subscription-State"); st != nil && strings.HasPrefix(st.Value(), "terminated") {
			break
		}
	}
}

// The gateway's view: x-parkway-park on sip:park@ with JSON bodies.
func TestSubscribeParkPackage(t *testing.T) {
	ctx := testCtx(t)
	s := startService(t, defaultConfig(), Options{Name: "pool-a"})
	p := newParties(t)
	gw := siptest.NewPhone(t, siptest.PhoneOptions{User: "gateway"})
	sub, err := gw.Subscribe(ctx, uri(s, parkwire.ParkUser), parkwire.EventPark, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parkBob(t, ctx, p, uri(s, "7003")); err != nil {
		t.Fatal(err)
	}
	n, err := sub.NextNotify(ctx, `"orbit":"7003"`)
	if err != nil {
		t.Fatal(err)
	}
	var doc parkwire.PublishedPark
	if err := json.Unmarshal(n.Body(), &doc); err != nil {
		t.Fatalf("%v: %s", err, n.Body())
	}
	if doc.Pool != "pool-a" || len(doc.Parked) != 1 || doc.Event == nil || doc.Event.Call.State != parkwire.StateParked {
		t.Errorf("doc %+v", doc)
	}
}

func TestSubscriptionExpires(t *testing.T) {
	ctx := testCtx(t)
	s := startService(t, defaultConfig(), Options{})
	w := siptest.NewPhone(t, siptest.PhoneOptions{User: "w"})
	sub, err := w.Subscribe(ctx, uri(s, parkwire.ParkUser), "dialog", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for {
		n, err := sub.NextNotify(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if st := n.GetHeader("Subscription-State"); st != nil && st.Value() == "terminated;reason=timeout" {
			break
		}
	}
	waitFor(t, ctx, "subscription forgotten", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.run.subs) == 0
	})
}

func TestSubscribeRefusals(t *testing.T) {
	ctx := testCtx(t)
	s := startService(t, defaultConfig(), Options{})
	w := siptest.NewPhone(t, siptest.PhoneOptions{User: "w"})
	if _, err := w.Subscribe(ctx, uri(s, "9000"), "dialog", time.Minute); siptest.Status(err) != 404 {
		t.Errorf("unknown orbit: %v, want 404", err)
	}
	if _, err := w.Subscribe(ctx, uri(s, "7000"), "presence", time.Minute); siptest.Status(err) != 489 {
		t.Errorf("unknown package: %v, want 489", err)
	}
	if _, err := w.Subscribe(ctx, uri(s, "7000"), parkwire.EventPark, time.Minute); siptest.Status(err) != 489 {
		t.Errorf("x-parkway-park on an orbit: %v, want 489", err)
	}
}

// sip:park@ with Event: dialog lists every parked call as a dialog, for a
// BLF panel watching the whole service.
func TestSubscribeAllOrbitsDialog(t *testing.T) {
	ctx := testCtx(t)
	s := startService(t, defaultConfig(), Options{})
	panel := siptest.NewPhone(t, siptest.PhoneOptions{User: "panel"})
	sub, err := panel.Subscribe(ctx, uri(s, parkwire.ParkUser), "dialog", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	alice := siptest.NewPhone(t, siptest.PhoneOptions{User: "alice"})
	for _, name := range []string{"b1", "b2"} {
		ph := siptest.NewPhone(t, siptest.PhoneOptions{User: name})
		if _, err := ph.Call(ctx, uri(s, parkwire.ParkUser), referredByHdr(alice)); err != nil {
			t.Fatal(err)
		}
	}
	for {
		n, err := sub.NextNotify(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		doc := dialogDoc(t, n.Body())
		if doc.Entity != s.ParkURI() {
			t.Fatalf("entity %q", doc.Entity)
		}
		if len(doc.Dialogs) == 2 {
			ids := doc.Dialogs[0].ID + "," + doc.Dialogs[1].ID
			if ids != "orbit-7000,orbit-7001" {
				t.Errorf("dialogs %s", ids)
			}
			return
		}
	}
}
