package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/parkway/parkway/internal/devca"
	"github.com/parkway/parkway/internal/usersfile"
)

func init() {
	subcommands["passwd"] = runPasswd
	subcommands["certs"] = runCerts
}

// runPasswd prints a users-file line with USER's password hashed for REALM (HA1), the
// password read from stdin (one line), so it never sits in the shell's history.
func runPasswd(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("passwd", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: parkway passwd USER REALM < password\n\nprints \"USER: {realm: REALM, ha1: MD5(USER:REALM:password)}\" for the users file\n(sip.credentialsFile, a pool's usersFile); REALM is the pools' realm (configs/pool-*-tls.yaml: parkway)")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return errors.New("want USER and REALM")
	}
	pw, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	pw = strings.TrimRight(pw, "\r\n")
	if pw == "" {
		return errors.New("no password on stdin")
	}
	fmt.Println(usersfile.Line(fs.Arg(0), fs.Arg(1), pw))
	return nil
}

// runCerts makes (or reuses) a CA in DIR and a certificate for each NAME naming the
// hosts given: what the pools' tls sections and the gateway's poolCAFile name.
func runCerts(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("certs", flag.ContinueOnError)
	dir := fs.String("dir", "configs/secrets/sip", "directory for ca.crt, ca.key and NAME.crt/.key")
	hosts := fs.String("hosts", "127.0.0.1", "comma-separated IPs and names every certificate names (the pools' TLS listen IPs)")
	years := fs.Int("years", 5, "validity of a new CA and its certificates")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: parkway certs [-dir DIR] [-hosts IP,...] NAME...\n\nmakes DIR/ca.crt and ca.key once (kept on later runs) and DIR/NAME.crt and NAME.key\nfor each NAME (an existing pair is kept), keys mode 600")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("name at least one certificate, e.g. pool-a pool-b")
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	ca, err := devca.Load(*dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if ca, err = devca.New("Parkway SIP CA", time.Duration(*years)*365*24*time.Hour); err != nil {
			return err
		}
		if err := ca.WriteCA(*dir); err != nil {
			return err
		}
		fmt.Printf("created %s\n", filepath.Join(*dir, "ca.crt"))
	case err != nil:
		return err
	default:
		fmt.Printf("kept    %s\n", filepath.Join(*dir, "ca.crt"))
	}
	names := strings.Split(*hosts, ",")
	for _, name := range fs.Args() {
		crt := filepath.Join(*dir, name+".crt")
		if _, err := os.Stat(crt); err == nil {
			fmt.Printf("kept    %s\n", crt)
			continue
		}
		leaf, err := ca.Issue(name, append([]string{name}, names...)...)
		if err != nil {
			return err
		}
		if err := leaf.Write(*dir, name); err != nil {
			return err
		}
		fmt.Printf("created %s (for %s)\n", crt, strings.Join(names, ", "))
	}
	return nil
}
