package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/storeurl"
)

var (
	errHelp  = errors.New("help shown")
	errUsage = errors.New("usage shown")
)

// newFlags returns a flag set that prints its usage to m.Stderr (or to
// m.Stdout for --help).
func (m *Main) newFlags(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: deconflict %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// storeFlag adds --store with its default from DECONFLICT_STORE.
func (m *Main) storeFlag(fs *flag.FlagSet) *string {
	def := m.Getenv("DECONFLICT_STORE")
	if def == "" {
		def = "sqlite:deconflict.db"
	}
	return fs.String("store", def, "store URL: sqlite:PATH or postgres://... (env DECONFLICT_STORE)")
}

// parseN is parse for a command that takes exactly n positional
// arguments: it prints the usage and returns errUsage for any other
// number.
func (m *Main) parseN(fs *flag.FlagSet, args []string, n int) ([]string, error) {
	pos, err := m.parse(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) != n {
		fs.Usage()
		return nil, errUsage
	}
	return pos, nil
}

// parse parses flags and positional arguments in any order and returns
// the positional ones.
func (m *Main) parse(fs *flag.FlagSet, args []string) ([]string, error) {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			fs.SetOutput(m.Stdout)
			fs.Usage()
			return nil, errHelp
		}
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, errUsage
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// openStore opens the store a URL names (sqlite:PATH or postgres://...).
func openStore(ctx context.Context, url string) (dc.Store, error) {
	return storeurl.Open(ctx, url)
}

// errorText returns what a person should read about err.
func errorText(err error) string {
	var e *dc.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}
