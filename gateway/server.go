package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/parkway/parkway/gateway/assets"
	"github.com/parkway/parkway/gateway/auth"
	"github.com/parkway/parkway/gateway/dr"
	"github.com/parkway/parkway/gateway/edge"
	"github.com/parkway/parkway/gateway/phone"
	"github.com/parkway/parkway/metrics"
	"github.com/parkway/parkway/signaling"
)

// Server is the gateway: static files, sign-in, websocket sessions and the admin API.
// It wires the websocket edge (package edge) to the phone (package phone).
type Server struct {
	cfg     Config
	log     *slog.Logger
	signer  *auth.Signer
	assets  *assets.Handler
	origins originPolicy
	// adminOrigins may make state-changing admin calls (/api/dr, /api/demo/): the
	// gateway's own pages and AllowedOrigins, never EmbedOrigins — a page that embeds
	// the widget is someone else's site, and must not be able to fail pools over.
	adminOrigins originPolicy
	edge         *edge.Server
	phones       *phone.Service // nil without Config.Registrar
	handler      http.Handler

	// Widget tickets (tickets.go): the hashed embed key (nil: none issued), the store of
	// spent ticket IDs, and the normalized embed allowlist.
	embedKey     *embedKey
	spent        auth.SpentStore
	perAddr      *addrLimit // websockets per client address (perip.go)
	embedOrigins map[string]bool

	unsubscribe func()
	closeOnce   sync.Once
}

// New builds a Server, subscribes it to cfg.Controller and starts its edge's write
// watchdog.
// Call Close (Serve does) to end its sessions, the subscription and the watchdog.
func New(cfg Config) (*Server, error) {
	cfg = cfg.WithDefaults()
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.NewGateway()
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("gateway: config: %w", err)
	}
	signer, err := auth.NewSigner(cfg.SessionKey)
	if err != nil {
		return nil, fmt.Errorf("gateway: sessionKey: %w", err)
	}
	files, err := assets.New(cfg.Assets, assets.Options{EmbedOrigins: cfg.EmbedOrigins})
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	s := &Server{
		cfg:          cfg,
		log:          cfg.Logger,
		signer:       signer,
		assets:       files,
		origins:      newOriginPolicy(cfg.AllowedOrigins, cfg.EmbedOrigins, cfg.Gateways),
		adminOrigins: newOriginPolicy(cfg.AllowedOrigins),
		embedKey:     newEmbedKey(cfg.EmbedKey),
		spent:        cfg.Tickets,
		perAddr:      newAddrLimit(cfg.MaxSessionsPerIP, cfg.TrustedProxies),
	}
	s.embedOrigins = newOriginPolicy(cfg.EmbedOrigins).allowed
	if err := files.Built(); err != nil {
		s.log.Warn("softphone pages will answer 503", "err", err)
	}
	ecfg := edge.Config{
		AuthTimeout:  cfg.AuthTimeout,
		PingInterval: cfg.PingInterval,
		PeerTimeout:  cfg.PeerTimeout,
		SendQueue:    cfg.SendQueue,
		DrainLimit:   cfg.DrainLimit,
		MaxSessions:  cfg.MaxSessions,
		MessageRate:  cfg.MessageRate,
		MessageBurst: cfg.MessageBurst,
		ReauthLead:   cfg.ReauthLead,
		Logger:       cfg.Logger,
		Signer:       signer,
		Metrics:      cfg.Metrics,
	}
	for _, g := range cfg.Gateways {
		ws, _ := signaling.GatewayWebsocket(g) // validated
		ecfg.Gateways = append(ecfg.Gateways, ws)
	}
	if cfg.Registrar != nil {
		s.phones = phone.New(phone.Config{
			Registrar:     cfg.Registrar,
			SignOutGrace:  cfg.SignOutGrace,
			ReattachGrace: cfg.ReattachGrace,
			ReattachHold:  cfg.ReattachHold,
			SIP:           cfg.SIP,
			Media:         cfg.Media,
			MediaAddr:     cfg.MediaAddr,
			Controller:    cfg.Controller,
			MaxCalls:      cfg.MaxCallsPerUser,
			Logger:        cfg.Logger,
			Metrics:       cfg.Metrics,
		})
		ecfg.Phone = s.phones
	}
	// Subscribe before reading the snapshot so no change falls between the two;
	// Publish drops whichever of them is older.
	s.edge = edge.New(ecfg, cfg.Controller.Snapshot())
	s.unsubscribe = cfg.Controller.Subscribe(func(snap dr.Snapshot) { s.edge.Publish(snap) })
	s.edge.Publish(cfg.Controller.Snapshot())
	s.registerMetrics()
	s.handler = s.routes()
	return s, nil
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", s.serveWS)
	s.opsRoutes(mux)
	api := http.NewServeMux()
	api.HandleFunc("/api/session", s.serveSignIn)
	api.HandleFunc("/api/tickets", s.serveTickets)
	api.HandleFunc("/api/widget/session", s.serveWidgetSession)
	if s.cfg.Admin != nil {
		admin := sameOriginWrites(s.adminOrigins, s.cfg.Admin)
		api.Handle("/api/dr", admin)
		api.Handle("/api/dr/", admin)
		api.Handle("/api/demo/", admin)
	}
	api.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not-found", "no API at "+r.URL.Path)
	})
	mux.Handle("/api/", sameOriginWrites(s.origins, api))
	mux.Handle("/", s.assets)
	return securityHeaders(newHostGuard(s.cfg.Hosts, s.cfg.Demo).wrap(mux))
}

// Handler is every route: / and the other static files, /api/session, /api/dr and
// /api/demo/ (when Config.Admin is set), and /ws.
func (s *Server) Handler() http.Handler { return s.handler }

// Sessions is how many authenticated websocket sessions are connected.
func (s *Server) Sessions() int { return s.edge.Sessions() }

// Assets is the static file server (for its WASM sizes in reports and tests).
func (s *Server) Assets() *assets.Handler { return s.assets }

// Serve serves HTTP on ln, with Config's HTTP limits, until ctx ends, then shuts down: websockets are closed with
// 1001 "gateway shutting down" (a client reconnects elsewhere or later), in-flight HTTP
// requests get up to 5 s to finish. It returns nil after a shutdown caused by ctx.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.handler,
		ConnContext:       s.ConnContext,
		ReadHeaderTimeout: min(10*time.Second, s.cfg.ReadTimeout),
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    s.cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	s.Close()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if serr := hs.Shutdown(sctx); serr != nil && err == nil {
		err = serr
	}
	if e := <-errc; err == nil && !errors.Is(e, http.ErrServerClosed) {
		err = e
	}
	return err
}

// ConnContext lets the gateway reach a websocket's TCP connection, to cut it when a
// close handshake hangs on a client that takes no data (coder/websocket's Close waits
// 5 s for that, and its CloseNow cannot interrupt a Close in progress). Serve sets it;
// set it as http.Server.ConnContext when serving Handler yourself.
func (s *Server) ConnContext(ctx context.Context, c net.Conn) context.Context {
	return edge.ConnContext(ctx, c)
}

// Close ends every websocket session with 1001 and the reason, stops following the DR
// controller, and waits for the sessions' goroutines. New /ws requests get 503 after it.
// A second Close waits for the first.
func (s *Server) Close() { s.closeOnce.Do(s.close) }

func (s *Server) close() {
	s.unsubscribe()
	s.edge.Close()
	if s.phones != nil {
		// After the sessions: none can start a call, join or leave any more.
		s.phones.Close()
	}
}
