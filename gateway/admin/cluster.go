package admin

import (
	"context"

	"github.com/parkway/parkway/gateway/dr"
)

// Controller is what the admin API needs of the DR state: *dr.Controller, or a
// cluster's (cluster.DR).
type Controller interface {
	Snapshot() dr.Snapshot
	Failover(ctx context.Context) (dr.Snapshot, error)
	Failback(ctx context.Context) (dr.Snapshot, error)
}

// ClusterStatus is the "cluster" object GET /api/dr adds when the gateway is one of a
// cluster (issue #11): this gateway's name, how many gateways are alive, and which one
// leads the DR phase ("" while none does); Revision is the revision of the shared phase
// this gateway shows, the same on every gateway once a change has reached them all.
type ClusterStatus struct {
	Gateway  string `json:"gateway"`
	Members  int    `json:"members"`
	Leader   string `json:"leader"`
	Revision uint64 `json:"revision"`
}

// clustered is a Controller that is one of a cluster.
type clustered interface {
	ClusterStatus() ClusterStatus
}

// statusBody is GET /api/dr's answer: the snapshot's fields, plus "cluster" for a
// gateway in a cluster.
type statusBody struct {
	dr.Snapshot
	Cluster *ClusterStatus `json:"cluster,omitempty"`
}

func (h *handler) statusBody() statusBody {
	b := statusBody{Snapshot: h.c.Snapshot()}
	if c, ok := h.c.(clustered); ok {
		cs := c.ClusterStatus()
		b.Cluster = &cs
	}
	return b
}
