package dr

import "testing"

func TestReparkTarget(t *testing.T) {
	snap := func(survivable, aUp, bUp bool) Snapshot {
		return Snapshot{Pools: []PoolStatus{
			{Name: "pool-a", Healthy: aUp, SurvivablePark: survivable},
			{Name: "pool-b", Healthy: bUp, SurvivablePark: survivable},
		}}
	}
	for _, tc := range []struct {
		name       string
		s          Snapshot
		dead, want string
	}{
		{name: "off: the seed's drop", s: snap(false, false, true), dead: "pool-a", want: ""},
		{name: "on, the other pool up", s: snap(true, false, true), dead: "pool-a", want: "pool-b"},
		{name: "on, the backup dies, home up", s: snap(true, true, false), dead: "pool-b", want: "pool-a"},
		{name: "on, both down", s: snap(true, false, false), dead: "pool-a", want: ""},
		{name: "an unknown pool", s: snap(true, true, true), dead: "pool-c", want: ""},
	} {
		if got := tc.s.ReparkTarget(tc.dead); got != tc.want {
			t.Errorf("%s: ReparkTarget(%s) = %q, want %q", tc.name, tc.dead, got, tc.want)
		}
	}
}
