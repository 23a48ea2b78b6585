package strictyaml

import (
	"strings"
	"testing"
)

type file struct {
	Name   string `yaml:"name"`
	Nested struct {
		Port int `yaml:"port"`
	} `yaml:"nested"`
}

func TestDecode(t *testing.T) {
	var f file
	if err := Decode([]byte("name: pool-a\nnested: {port: 5070}\n"), 100, &f); err != nil {
		t.Fatal(err)
	}
	if f.Name != "pool-a" || f.Nested.Port != 5070 {
		t.Errorf("decoded %+v", f)
	}
}

func TestDecodeRefuses(t *testing.T) {
	for _, tc := range []struct{ name, data, want string }{
		{"unknown key", "nmae: pool-a\n", "nmae"},
		{"unknown nested key", "nested: {prot: 1}\n", "prot"},
		{"wrong type", "nested: {port: many}\n", "many"},
		{"empty", "", "empty"},
		{"only a comment", "# nothing\n", "empty"},
		{"two documents", "name: a\n---\nname: b\n", "more than one YAML document"},
		{"too large", "name: " + strings.Repeat("x", 100) + "\n", "exceeds 100"},
	} {
		var f file
		err := Decode([]byte(tc.data), 100, &f)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
}
