package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/parkway/parkway/gateway/dr"
)

// DefaultGateway is where `parkway dr` looks for the admin API unless told otherwise:
// the demo's default address.
const DefaultGateway = "http://127.0.0.1:8080"

// Client calls a gateway's admin API.
type Client struct {
	// Gateway is the gateway's base URL, e.g. "http://127.0.0.1:8080"; empty means
	// DefaultGateway.
	Gateway string
	// Token is the admin bearer token, if the gateway requires one.
	Token string
	// HTTP is the client to use; nil means one with a 10 s timeout, so a CLI never hangs
	// on a gateway that accepted the connection and went quiet.
	HTTP *http.Client
}

// APIError is an error answer from the admin API: the HTTP status and the JSON error.
type APIError struct {
	Status int
	ErrorDetail
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s (HTTP %d): %s", e.Code, e.Status, e.Message)
}

// Status is GET /api/dr.
func (c *Client) Status(ctx context.Context) (dr.Snapshot, error) {
	var s dr.Snapshot
	return s, c.do(ctx, http.MethodGet, "/api/dr", &s)
}

// Failover is POST /api/dr/failover; a refusal is an *APIError with Status 409.
func (c *Client) Failover(ctx context.Context) (dr.Snapshot, error) {
	var s dr.Snapshot
	return s, c.do(ctx, http.MethodPost, "/api/dr/failover", &s)
}

// Failback is POST /api/dr/failback; a refusal is an *APIError with Status 409.
func (c *Client) Failback(ctx context.Context) (dr.Snapshot, error) {
	var s dr.Snapshot
	return s, c.do(ctx, http.MethodPost, "/api/dr/failback", &s)
}

// StopPool is the demo's POST /api/demo/pools/{name}/stop.
func (c *Client) StopPool(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodPost, "/api/demo/pools/"+url.PathEscape(name)+"/stop", new(PoolAction))
}

// StartPool is the demo's POST /api/demo/pools/{name}/start.
func (c *Client) StartPool(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodPost, "/api/demo/pools/"+url.PathEscape(name)+"/start", new(PoolAction))
}

func (c *Client) do(ctx context.Context, method, path string, out any) error {
	base := c.Gateway
	if base == "" {
		base = DefaultGateway
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("gateway URL %q: want http(s)://host:port", base)
	}
	u = u.JoinPath(path)
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	res, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("admin API: reading %s %s: %w", method, path, err)
	}
	if res.StatusCode/100 != 2 {
		var eb ErrorBody
		if json.Unmarshal(body, &eb) != nil || eb.Error.Code == "" {
			// Not our API's error (a proxy, an old gateway): show what came back.
			eb.Error = ErrorDetail{Code: http.StatusText(res.StatusCode), Message: strings.TrimSpace(string(body))}
		}
		return &APIError{Status: res.StatusCode, ErrorDetail: eb.Error}
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("admin API: %s %s answered %d with bad JSON: %w", method, path, res.StatusCode, err)
	}
	return nil
}

// WriteStatus prints a snapshot for a person: the phase and what it means, then one
// line per pool with its health.
func WriteStatus(w io.Writer, s dr.Snapshot, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	mode := ""
	if s.Resiliency {
		mode = " (resiliency mode)"
	}
	fmt.Fprintf(tw, "phase:\t%s%s, since %s (%s ago)\n", s.Phase, mode,
		s.Since.Local().Format("15:04:05"), now.Sub(s.Since).Round(time.Second))
	fmt.Fprintf(tw, "meaning:\t%s\n", s.Phase.Describe())
	fmt.Fprintf(tw, "users on:\t%s (home %s, backup %s)\n", s.ActivePool, s.HomePool, s.BackupPool)
	if s.FailoverRequested {
		fmt.Fprintf(tw, "pending:\tfailover requested; failed-over follows once users are on %s\n", s.BackupPool)
	}
	if s.Redirecting != "" {
		fmt.Fprintf(tw, "moving:\tusers are being redirected to %s\n", s.Redirecting)
	}
	if s.RedirectError != "" {
		fmt.Fprintf(tw, "warning:\tredirection failing, retried: %s\n", s.RedirectError)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "POOL\tROLE\tHEALTH\tSIP ADDRESS\tORBITS\tDETAIL")
	for _, p := range s.Pools {
		health := "healthy"
		if !p.Healthy {
			health = "DOWN"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.Name, p.Role, health, p.SIPAddr, p.Orbits, p.Detail)
	}
	return tw.Flush()
}

// Actions are the `parkway dr` actions Command accepts.
var Actions = []string{"status", "failover", "failback"}

// Command runs one `parkway dr` action — status, failover or failback — and prints the
// resulting snapshot to out: as JSON (the API's own body) when asJSON, else for a person.
// A refusal comes back as an *APIError whose message is the gateway's.
func (c *Client) Command(ctx context.Context, action string, out io.Writer, asJSON bool) error {
	var (
		s   dr.Snapshot
		err error
	)
	switch action {
	case "status":
		s, err = c.Status(ctx)
	case "failover":
		s, err = c.Failover(ctx)
	case "failback":
		s, err = c.Failback(ctx)
	default:
		return fmt.Errorf("unknown action %q: want one of %s", action, strings.Join(Actions, ", "))
	}
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	if action != "status" {
		fmt.Fprintf(out, "%s accepted: phase is now %s\n\n", action, s.Phase)
	}
	return WriteStatus(out, s, time.Now())
}
