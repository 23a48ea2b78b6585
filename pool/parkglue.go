package pool

// TEMPORARY until park/ lands: the contract the park helper promised, so the pool can be
// built and tested. Replaced by aliases to package park.

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

type parkRange struct{ Start, End string }

type parkConfig struct {
	Orbits            []parkRange
	PickupTimeout     time.Duration
	MusicOnHold       bool
	MusicFile         string
	MaxPickupAttempts int
	OnTimeoutURI      string
}

func (c parkConfig) Validate() error {
	if len(c.Orbits) == 0 {
		return errors.New("park: no orbits")
	}
	return nil
}

type parkService interface {
	Start(ctx context.Context) error
	Addr() string
	Stop() error
	Drain()
	Owns(user string) bool
}

func newParkService(cfg parkConfig, listen, domain string, log *slog.Logger) (parkService, error) {
	return nil, nil
}

// Range is an orbit range, "7000"–"7099".
type Range = parkRange

// ParkConfig is the park service's configuration.
type ParkConfig = parkConfig

// parkIdle reports whether the park service holds no parked call.
func parkIdle(s parkService) bool { return true }
