package strictyaml

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"
)

// Decode decodes data, at most maxSize bytes holding exactly one YAML document, into v.
// A key v has no field for is an error; so are an empty file ("empty") and a second
// document.
func Decode(data []byte, maxSize int, v any) error {
	if len(data) > maxSize {
		return fmt.Errorf("%d bytes exceeds %d", len(data), maxSize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("empty")
		}
		return err
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("more than one YAML document")
	}
	return nil
}
