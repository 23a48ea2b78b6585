// Package strictyaml decodes Parkway's config files the one way they are all read: one
// YAML document, of bounded size, into a struct whose every key must be known, so a
// misspelt key is an error rather than a silent default.
package strictyaml
