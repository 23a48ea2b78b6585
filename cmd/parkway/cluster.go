package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/parkway/parkway/cluster"
	"github.com/parkway/parkway/gateway"
	"github.com/parkway/parkway/gateway/ua"
	"github.com/parkway/parkway/metrics"
)

// clusterState is what a gateway of a cluster shares with the others: the DR phase,
// and, unless configured otherwise, the session key and the spent tickets.
type clusterState struct {
	node    *cluster.Node
	owned   bool // the node is this gateway's to close
	dr      *cluster.DR
	key     []byte
	tickets *cluster.Tickets
}

// joinCluster starts (or takes the demo's) NATS node and builds this gateway's share
// of the cluster's DR, its session key (unless sessionKeyFile gives one) and its
// spent-ticket store.
func (e edge) joinCluster(ctx context.Context, sip *ua.Manager, m *metrics.Gateway) (*clusterState, error) {
	s := &clusterState{node: e.clusterNode}
	if s.node == nil {
		c := *e.cluster
		c.Logger = e.log
		n, err := cluster.Start(c)
		if err != nil {
			return nil, err
		}
		s.node, s.owned = n, true
	}
	cfg := e.dr
	cfg.Metrics, cfg.Logger = m, e.log
	if sip != nil {
		cfg.Redirector = sip
	}
	d, err := cluster.NewDR(s.node, cluster.DRConfig{DR: cfg})
	if err != nil {
		s.close()
		return nil, err
	}
	s.dr = d
	// A forming cluster needs its quorum before it can store anything.
	openCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if len(e.gateway.SessionKey) == 0 {
		if s.key, err = cluster.SessionKey(openCtx, s.node); err != nil {
			s.close()
			return nil, fmt.Errorf("cluster session key: %w", err)
		}
	}
	ttl := e.gateway.TicketTTL
	if ttl == 0 {
		ttl = gateway.DefaultTicketTTL
	}
	if s.tickets, err = cluster.NewTickets(openCtx, s.node, ttl); err != nil {
		s.close()
		return nil, fmt.Errorf("cluster tickets: %w", err)
	}
	e.log.Info("gateway joined its cluster", "gateway", s.node.Name())
	return s, nil
}

// configure makes the gateway use what the cluster shares; nothing without a cluster.
func (s *clusterState) configure(cfg *gateway.Config) {
	if s == nil {
		return
	}
	if s.key != nil {
		cfg.SessionKey = s.key
	}
	cfg.Tickets = s.tickets
}

func (s *clusterState) close() {
	if s.owned {
		s.node.Close()
	}
}

// carryCalls writes this gateway's established calls to the cluster and adopts those
// of gateways that die (cluster.Dialogs). The returned stop ends it, deleting this
// gateway's records — it is stopping cleanly and hangs up its calls itself — and must
// run before the node closes.
func (s *clusterState) carryCalls(ctx context.Context, gw *gateway.Server, sip *ua.Manager, log *slog.Logger) (stop func(), err error) {
	d, err := cluster.NewDialogs(s.node, s.dr, cluster.DialogsConfig{Adopt: gw.Adopt, Logger: log})
	if err != nil {
		return nil, err
	}
	sip.SetDialogSink(d)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := d.Run(ctx); err != nil {
			log.Error("cluster: calls will not survive this gateway", "err", err)
		}
	}()
	return func() {
		sip.SetDialogSink(nil)
		cancel()
		<-done
	}, nil
}
