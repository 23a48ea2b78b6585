package demousers

import (
	"os"
	"reflect"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/parkway/parkway/internal/usersfile"
)

func TestNamesFollowAll(t *testing.T) {
	want := []string{"alice", "bob", "carol", "dave"}
	if got := Names(); !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	names := Names()
	names[0] = "mallory"
	if All[0].Name != "alice" {
		t.Fatal("changing what Names returned changed All")
	}
}

// The demo gateway's credentials file is the same list, so `parkway gateway` with
// configs/gateway-demo.yaml signs the demo users in at pools started from
// configs/pool-*.yaml (pool's TestDemoConfigsMatchFiles checks those against this list);
// configs/users.yaml, the deployment's, holds the same passwords hashed for realm
// "parkway" (configs/pool-*-tls.yaml).
func TestCredentialsFileMatches(t *testing.T) {
	data, err := os.ReadFile("../../configs/users-demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := yaml.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, u := range All {
		want[u.Name] = u.Password
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("configs/users-demo.yaml = %v, want %v", got, want)
	}
	hashed, err := usersfile.Load("../../configs/users.yaml")
	if err != nil {
		t.Fatal(err)
	}
	wantHashed := map[string]usersfile.Entry{}
	for _, u := range All {
		wantHashed[u.Name] = usersfile.Entry{HA1: usersfile.HA1(u.Name, "parkway", u.Password), Realm: "parkway"}
	}
	if !reflect.DeepEqual(hashed, wantHashed) {
		t.Errorf("configs/users.yaml = %v, want the demo passwords hashed for realm parkway", hashed)
	}
}
