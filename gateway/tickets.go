package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/parkway/parkway/gateway/auth"
)

// Widget tickets (issue 6). A site that embeds the widget signs its own users in; the
// gateway cannot see that sign-in, so the site's backend vouches for a user by asking
// for a ticket with the embed key, a secret that never reaches a browser:
//
//	host backend ──POST /api/tickets {user}, Authorization: Bearer KEY──► gateway
//	             ◄─────────────────── {ticket, expiresAt} ───────────────
//	host page (embed.js) ──postMessage {ticket} to the widget iframe, gateway origin only
//	widget ──POST /api/widget/session {ticket, embedder}──► gateway
//	       ◄──────── {token, user, expiresAt, embedder} ────
//
// The ticket is a KindTicket token (gateway/auth): signed, living TicketTTL, good for one
// exchange; its ID is spent in an auth.SpentStore that remembers it until it expires. The
// session token it buys is an ordinary KindSession token the widget keeps in
// sessionStorage, so neither ever appears in a URL.

// DefaultTicketTTL is how long a widget ticket can wait to be exchanged: long enough for
// a host page to load and hand it over, short enough that a leaked one is soon useless.
const DefaultTicketTTL = 60 * time.Second

// MinEmbedKeySize is the shortest embed key accepted.
const MinEmbedKeySize = 16

// ticketUser is what a host may name as a widget user: a SIP user part without escapes.
var ticketUser = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$`)

// ticketRequest is the body of POST /api/tickets.
type ticketRequest struct {
	User string `json:"user"`
	// TTLSeconds optionally shortens the ticket's life below TicketTTL (never longer).
	TTLSeconds *int `json:"ttlSeconds"`
}

// TicketGrant is the answer to POST /api/tickets.
type TicketGrant struct {
	Ticket    string    `json:"ticket"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// WidgetSession is the answer to POST /api/widget/session: a session token like
// SignIn's, and the embedding origin the gateway accepted, which is the only origin the
// widget then takes commands from and posts events to.
type WidgetSession struct {
	SignIn
	Embedder string `json:"embedder"`
}

// embedKey compares bearer keys in constant time. Hashing first makes the comparison's
// time independent of the key's length as well as its content.
type embedKey struct{ sum [sha256.Size]byte }

func newEmbedKey(k []byte) *embedKey {
	if len(k) == 0 {
		return nil
	}
	return &embedKey{sum: sha256.Sum256(k)}
}

func (k *embedKey) matches(r *http.Request) bool {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(got[:], k.sum[:]) == 1
}

// serveTickets is POST /api/tickets: the host's backend asks for a ticket for one of its
// users. The embed key is the whole of the authentication, so this answers 404 when no
// key is configured: a gateway without one has no embedding to offer.
func (s *Server) serveTickets(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "method-not-allowed", `use POST with {"user":"NAME"} and Authorization: Bearer KEY`)
		return
	}
	if s.embedKey == nil {
		writeError(w, http.StatusNotFound, "not-configured", "this gateway issues no widget tickets: it has no embed key (embedKeyFile)")
		return
	}
	if !s.embedKey.matches(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="parkway-embed"`)
		writeError(w, http.StatusUnauthorized, "unauthorized", "a ticket needs the embed key as Authorization: Bearer KEY")
		return
	}
	var req ticketRequest
	if !decodeStrict(w, r, &req) {
		writeError(w, http.StatusBadRequest, "malformed", `the body must be {"user":"NAME"} or {"user":"NAME","ttlSeconds":N}`)
		return
	}
	ttl := s.cfg.TicketTTL
	if req.TTLSeconds != nil {
		d := time.Duration(*req.TTLSeconds) * time.Second
		if d <= 0 || d > ttl {
			writeJSON(w, http.StatusBadRequest, apiFieldError{Error: apiFieldDetail{Code: "bad-field", Field: "ttlSeconds",
				Message: fmt.Sprintf("ttlSeconds must be 1 to %d (ticketTTL): a host may shorten a ticket's life, not lengthen it", int(ttl/time.Second))}})
			return
		}
		ttl = d
	}
	if !ticketUser.MatchString(req.User) {
		writeJSON(w, http.StatusBadRequest, apiFieldError{Error: apiFieldDetail{Code: "bad-field", Field: "user",
			Message: "user " + quote(req.User) + " must be 1–64 letters, digits or . _ + - (a SIP user name)"}})
		return
	}
	if s.cfg.Demo && !slices.Contains(s.cfg.DemoUsers, req.User) {
		writeError(w, http.StatusNotFound, "unknown-user", "no demo user "+quote(req.User)+"; the demo users are "+strings.Join(s.cfg.DemoUsers, ", "))
		return
	}
	ticket, claims, err := s.signer.Issue(req.User, auth.KindTicket, ttl)
	if err != nil {
		s.log.Error("issue widget ticket", "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "could not issue a ticket")
		return
	}
	writeJSON(w, http.StatusOK, TicketGrant{Ticket: ticket, ExpiresAt: claims.ExpiresAt.UTC()})
}

// widgetSessionRequest is the body of POST /api/widget/session.
type widgetSessionRequest struct {
	Ticket string `json:"ticket"`
	// Embedder is the origin of the page that frames the widget, as the widget's
	// browser reports it (location.ancestorOrigins, else document.referrer).
	Embedder string `json:"embedder"`
}

// serveWidgetSession is POST /api/widget/session: the widget exchanges a ticket, once,
// for a session token. Only the widget page itself may ask (its Origin is the gateway's
// own): a host page that could exchange tickets would hold the session token, which is
// meant to stay inside the frame. The embedder it names must be on the embed allowlist
// (or be the gateway itself); CSP frame-ancestors already stops other sites from framing
// the widget, and this check stops a widget from trusting one that a browser without
// frame-ancestors support let through.
func (s *Server) serveWidgetSession(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "method-not-allowed", `use POST with {"ticket":"…","embedder":"https://host.example"}`)
		return
	}
	if !sameHostOrigin(r) {
		writeError(w, http.StatusForbidden, "forbidden-origin", "only the widget page exchanges tickets; origin "+quote(r.Header.Get("Origin"))+" may not")
		return
	}
	var req widgetSessionRequest
	if !decodeStrict(w, r, &req) || req.Ticket == "" {
		writeError(w, http.StatusBadRequest, "malformed", `the body must be {"ticket":"…","embedder":"https://host.example"}`)
		return
	}
	embedder, ok := s.embedderAllowed(req.Embedder, r.Host)
	if !ok {
		writeJSON(w, http.StatusForbidden, apiFieldError{Error: apiFieldDetail{Code: "origin-not-allowed", Field: "embedder",
			Message: "pages on " + quote(req.Embedder) + " may not embed the widget (embedOrigins)"}})
		return
	}
	claims, err := s.signer.Verify(req.Ticket, auth.KindTicket)
	switch {
	case errors.Is(err, auth.ErrExpired) && claims.Kind == auth.KindTicket:
		writeError(w, http.StatusUnauthorized, "ticket-expired", "the ticket has expired: ask the host for a new one")
		return
	case err != nil:
		s.log.Info("widget ticket refused", "err", err)
		writeError(w, http.StatusUnauthorized, "unauthorized", "that is not a valid widget ticket")
		return
	}
	switch err := s.spent.Spend(claims.ID, claims.ExpiresAt); {
	case errors.Is(err, auth.ErrReused):
		writeError(w, http.StatusUnauthorized, "ticket-used", "the ticket was already used: each ticket signs in one widget once")
		return
	case errors.Is(err, auth.ErrSpentFull):
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "busy", err.Error())
		return
	case err != nil:
		s.log.Error("spend widget ticket", "err", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "could not record the ticket's use; try again")
		return
	}
	token, sc, err := s.signer.Issue(claims.User, auth.KindSession, s.cfg.SessionTTL)
	if err != nil {
		s.log.Error("issue widget session token", "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "could not issue a session token")
		return
	}
	writeJSON(w, http.StatusOK, WidgetSession{
		SignIn:   SignIn{Token: token, User: sc.User, ExpiresAt: sc.ExpiresAt.UTC()},
		Embedder: embedder,
	})
}

// embedderAllowed normalizes origin and reports whether it may frame the widget: one of
// EmbedOrigins, or the gateway itself (host, as the request named it), which CSP's
// frame-ancestors 'self' allows too.
func (s *Server) embedderAllowed(origin, host string) (string, bool) {
	n, err := ParseOrigin(origin)
	if err != nil {
		return "", false
	}
	if u, err := url.Parse(n); err == nil && strings.EqualFold(u.Host, host) {
		return n, true
	}
	return n, s.embedOrigins[n]
}

// sameHostOrigin reports whether r comes from a page of the gateway itself. Unlike
// originPolicy.allows, a missing Origin does not pass: browsers send one on every POST,
// and this endpoint exists only for the widget page.
func sameHostOrigin(r *http.Request) bool {
	u, err := url.Parse(r.Header.Get("Origin"))
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

// decodeStrict reads a small JSON object with no unknown fields and nothing after it.
func decodeStrict(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	return dec.Decode(v) == nil && !dec.More()
}

// apiFieldError is apiError naming the request field that was wrong.
type apiFieldError struct {
	Error apiFieldDetail `json:"error"`
}

type apiFieldDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field"`
}

// DemoEmbedKey is `parkway demo`'s embed key. It is published, like the demo users'
// passwords, so a host page's backend in a demo or a test can buy tickets; a real
// gateway reads its own from embedKeyFile.
const DemoEmbedKey = "parkway-demo-embed-key"
