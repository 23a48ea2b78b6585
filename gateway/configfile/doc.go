// Package configfile reads the YAML file `parkway gateway --config FILE` runs from
// into a gateway.Config, the DR controller's pools and probes, the SIP user agent's
// settings and the admin token ([Load], [Parse]; the format is documented on the
// file type, with every key), and says what in it is unsafe on a network ([File.Check],
// the text of `parkway gateway --check-config`; [Refusal] is what the gateway refuses
// to start with). Every error names the key it is about.
package configfile
