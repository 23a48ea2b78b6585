package gateway

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/parkway/parkway/gateway/auth"
)

// signInRequest is the body of POST /api/session.
type signInRequest struct {
	User string `json:"user"`
}

// SignIn is the answer: a session token the softphone keeps in sessionStorage (per tab)
// and sends in its first websocket frame.
type SignIn struct {
	Token     string    `json:"token"`
	User      string    `json:"user"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// serveSignIn is demo sign-in: a demo user's name is exchanged for a signed session
// token. It exists only in demo mode, where the users have no passwords to protect;
// otherwise it is 403, and sessions come from a real identity provider or, for the
// widget, from single-use tickets (issue 6).
func (s *Server) serveSignIn(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "method-not-allowed", "use POST with {\"user\":\"alice\"}")
		return
	}
	if !s.cfg.Demo {
		writeError(w, http.StatusForbidden, "forbidden", "sign-in by name is only available in demo mode")
		return
	}
	var req signInRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1024))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || dec.More() {
		writeError(w, http.StatusBadRequest, "malformed", `the body must be {"user":"NAME"}`)
		return
	}
	if !slices.Contains(s.cfg.DemoUsers, req.User) {
		writeError(w, http.StatusNotFound, "unknown-user", "no demo user "+quote(req.User)+"; the demo users are "+strings.Join(s.cfg.DemoUsers, ", "))
		return
	}
	token, claims, err := s.signer.Issue(req.User, auth.KindSession, s.cfg.SessionTTL)
	if err != nil {
		s.log.Error("issue session token", "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "could not issue a session token")
		return
	}
	writeJSON(w, http.StatusOK, SignIn{Token: token, User: claims.User, ExpiresAt: claims.ExpiresAt.UTC()})
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	b, _ := json.Marshal(s)
	return string(b)
}
