package gateway

import (
	"encoding/json"
	"net/http"

	"github.com/parkway/parkway/gateway/assets"
)

// apiError is the body of every JSON error the gateway's HTTP API returns, the same
// shape as the admin API's: {"error":{"code":"...","message":"..."}}. Code is for
// programs, message for people.
type apiError struct {
	Error apiErrorDetail `json:"error"`
}

type apiErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, apiError{Error: apiErrorDetail{Code: code, Message: msg}})
}

// securityHeaders applies to every response. Its Content-Security-Policy lets a response
// opened as a document load and run nothing, and frame-ancestors 'self' stops other
// sites from framing the softphone (clickjacking a Call button); assets replaces it on
// the pages with the policy they need (assets.PagePolicy), whose frame-ancestors it
// widens for widget.html only. nosniff keeps browsers from running a file as another type.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", assets.NonPagePolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// sameOriginWrites refuses state-changing requests from pages of origins the policy does
// not allow: a cross-site HTML form can POST without a CORS preflight, and the admin
// API's failover must not be one click on someone else's page away.
func sameOriginWrites(origins originPolicy, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if !origins.allows(r) {
				writeError(w, http.StatusForbidden, "forbidden-origin", "requests from origin "+r.Header.Get("Origin")+" are not allowed")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
