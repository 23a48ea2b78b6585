// Package admin is the gateway's disaster-recovery admin API (ARCHITECTURE.md §4) and its
// client: GET /api/dr, POST /api/dr/failover and /api/dr/failback, and, in the demo only,
// POST /api/demo/pools/{name}/stop and /start.
//
// Entry points: [Handler] serves the API over a [Controller] (*dr.Controller, or a cluster's); [Client] calls it (the
// `parkway dr` CLI is Client plus [WriteStatus]). Every error is JSON,
// {"error":{"code":"...","message":"..."}}, with the status saying its class: 409 for a
// transition the phase does not allow, 404 for an unknown path or pool, 405 (with Allow)
// for a wrong method, 401 without the admin token when one is configured. Every action
// and every refused token is logged with who and from where ([WithAuditLog]).
package admin

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/parkway/parkway/gateway/dr"
)

// DemoPools stops and starts the demo's pools for real: StopPool closes the pool's SIP
// listeners and park service, StartPool reopens them. An implementation may return an
// error wrapping ErrUnknownPool for a name it does not know.
type DemoPools interface {
	StopPool(name string) error
	StartPool(ctx context.Context, name string) error
}

// ErrUnknownPool is what a DemoPools returns (wrapped) for a name that is not a pool;
// the API answers 404.
var ErrUnknownPool = errors.New("unknown pool")

// Error codes of the API's JSON errors.
const (
	CodeConflict         = "conflict"           // 409: the phase does not allow the transition
	CodeNotFound         = "not-found"          // 404: no such endpoint or pool
	CodeMethodNotAllowed = "method-not-allowed" // 405
	CodeUnauthorized     = "unauthorized"       // 401: admin token missing or wrong
	CodeUnavailable      = "unavailable"        // 503: the controller is not running
	CodeInternal         = "internal"           // 500
)

// ErrorBody is the JSON of every error response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail says what went wrong: a code a program can act on, a message a person
// can read and, for conflicts, the phase that refused.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Phase   string `json:"phase,omitempty"`
}

// PoolAction is the body of a successful demo stop or start.
type PoolAction struct {
	Pool  string `json:"pool"`
	State string `json:"state"` // "stopped" or "started"
}

// Option configures Handler.
type Option func(*handler)

// WithToken requires every request to carry "Authorization: Bearer <token>". Outside
// the demo the admin API moves every user between pools: it must not be open to anyone
// who can reach the gateway. An empty token means no check (the demo, or a gateway
// whose admin API is reachable only from a trusted network).
func WithToken(token string) Option {
	return func(h *handler) { h.token = token }
}

// WithAuditLog logs every admin action (failover, failback, a demo pool's stop or start)
// and every request refused for a wrong or missing token on log, saying who (the token,
// or anonymous when there is none: "demo" in the demo) and from where (the remote
// address and the Origin header). Without it actions go to slog.Default.
func WithAuditLog(log *slog.Logger, anonymous string) Option {
	return func(h *handler) {
		h.log = log
		h.anonymous = anonymous
	}
}

type handler struct {
	c         Controller
	demo      DemoPools
	token     string
	log       *slog.Logger
	file      *slog.Logger // the audit file (WithAuditFile), or nil
	anonymous string       // who a caller is when the API has no token
	mux       *http.ServeMux
}

// audit logs an admin action: what, its outcome, who asked and from where.
func (h *handler) audit(r *http.Request, action string, status int, err error) {
	who := h.anonymous
	if h.token != "" {
		who = "admin-token"
	}
	level, outcome := slog.LevelInfo, "done"
	if err != nil {
		level, outcome = slog.LevelWarn, err.Error()
	}
	args := []any{"action", action, "status", status, "outcome", outcome,
		"who", who, "remote", r.RemoteAddr, "origin", r.Header.Get("Origin")}
	h.log.Log(r.Context(), level, "admin action", args...)
	if h.file != nil {
		h.file.Log(r.Context(), level, "admin action", args...)
	}
}

// Handler serves the admin API for c. demo is nil outside demo mode, and then the whole
// /api/demo/ tree answers 404, as if it did not exist. Mount it at /api/dr, /api/dr/ and
// /api/demo/ (it matches full paths).
func Handler(c Controller, demo DemoPools, opts ...Option) http.Handler {
	h := &handler{c: c, demo: demo, log: slog.Default(), anonymous: "anonymous", mux: http.NewServeMux()}
	for _, o := range opts {
		o(h)
	}
	m := h.mux
	m.HandleFunc("GET /api/dr", h.status)
	m.HandleFunc("POST /api/dr/failover", h.transition("failover", c.Failover))
	m.HandleFunc("POST /api/dr/failback", h.transition("failback", c.Failback))
	// The method-less twins of each pattern catch the other methods, so a wrong method
	// gets a JSON 405 with Allow rather than ServeMux's plain-text one.
	m.HandleFunc("/api/dr", methodNotAllowed("GET, HEAD"))
	m.HandleFunc("/api/dr/failover", methodNotAllowed("POST"))
	m.HandleFunc("/api/dr/failback", methodNotAllowed("POST"))
	if demo != nil {
		m.HandleFunc("POST /api/demo/pools/{name}/stop", h.pool("stop", "stopped", func(r *http.Request, name string) error {
			return demo.StopPool(name)
		}))
		m.HandleFunc("POST /api/demo/pools/{name}/start", h.pool("start", "started", func(r *http.Request, name string) error {
			return demo.StartPool(r.Context(), name)
		}))
		m.HandleFunc("/api/demo/pools/{name}/stop", methodNotAllowed("POST"))
		m.HandleFunc("/api/demo/pools/{name}/start", methodNotAllowed("POST"))
	}
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, ErrorDetail{Code: CodeNotFound, Message: "no such endpoint: " + r.URL.Path})
	})
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.token != "" {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(h.token)) != 1 {
			args := []any{"method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "origin", r.Header.Get("Origin")}
			h.log.Warn("admin request refused: no valid admin token", args...)
			if h.file != nil {
				h.file.Warn("admin request refused: no valid admin token", args...)
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="parkway-admin"`)
			writeError(w, http.StatusUnauthorized, ErrorDetail{Code: CodeUnauthorized, Message: "the admin API needs the admin token (Authorization: Bearer ...)"})
			return
		}
	}
	h.mux.ServeHTTP(w, r)
}

func (h *handler) status(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, h.statusBody())
}

func (h *handler) transition(action string, do func(context.Context) (dr.Snapshot, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		snap, err := do(r.Context())
		var te *dr.TransitionError
		status := http.StatusOK
		switch {
		case err == nil:
			writeJSON(w, status, snap)
		case errors.As(err, &te):
			status = http.StatusConflict
			writeError(w, status, ErrorDetail{
				Code:    CodeConflict,
				Message: fmt.Sprintf("%s refused in phase %s: %s", te.Event, te.From, te.Reason),
				Phase:   string(te.From),
			})
		case errors.Is(err, dr.ErrNotRunning):
			status = http.StatusServiceUnavailable
			writeError(w, status, ErrorDetail{Code: CodeUnavailable, Message: err.Error()})
		default:
			status = http.StatusInternalServerError
			writeError(w, status, ErrorDetail{Code: CodeInternal, Message: err.Error()})
		}
		h.audit(r, action, status, err)
	}
}

func (h *handler) pool(action, state string, do func(r *http.Request, name string) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		action := action + " pool " + name
		if _, ok := h.c.Snapshot().Pool(name); !ok {
			writeError(w, http.StatusNotFound, ErrorDetail{Code: CodeNotFound, Message: fmt.Sprintf("no pool named %q", name)})
			h.audit(r, action, http.StatusNotFound, ErrUnknownPool)
			return
		}
		err := do(r, name)
		status := http.StatusOK
		switch {
		case err == nil:
			writeJSON(w, status, PoolAction{Pool: name, State: state})
		case errors.Is(err, ErrUnknownPool):
			status = http.StatusNotFound
			writeError(w, status, ErrorDetail{Code: CodeNotFound, Message: fmt.Sprintf("no pool named %q", name)})
		default:
			status = http.StatusInternalServerError
			writeError(w, status, ErrorDetail{Code: CodeInternal, Message: fmt.Sprintf("pool %s: %v", name, err)})
		}
		h.audit(r, action, status, err)
	}
}

func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, ErrorDetail{
			Code:    CodeMethodNotAllowed,
			Message: fmt.Sprintf("%s is not allowed on %s; use %s", r.Method, r.URL.Path, allow),
		})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	// Admin state changes by the second: never let a proxy or browser cache it.
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, d ErrorDetail) {
	writeJSON(w, status, ErrorBody{Error: d})
}
