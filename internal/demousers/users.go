package demousers

// User is one demo user: the name a softphone signs in with and the digest password
// the pools check (configs/pool-*.yaml and configs/users-demo.yaml hold the same;
// configs/users.yaml their HA1 hashes).
type User struct {
	Name     string
	Password string
}

// All are the demo's users, in the order the demo lists them. Callers must not modify
// it: take [Names] or copy it.
var All = []User{
	{Name: "alice", Password: "alice-demo"},
	{Name: "bob", Password: "bob-demo"},
	{Name: "carol", Password: "carol-demo"},
	{Name: "dave", Password: "dave-demo"},
}

// Names returns a new slice of the demo users' names, in the order of [All].
func Names() []string {
	names := make([]string, len(All))
	for i, u := range All {
		names[i] = u.Name
	}
	return names
}
