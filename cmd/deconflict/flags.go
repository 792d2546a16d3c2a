package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"text/tabwriter"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/storeurl"
	"github.com/deconflict/deconflict/mechanism"
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

// subcommand returns nil if args begin with one of a command's
// sub-commands, subs. Otherwise it prints the command's usage: to
// m.Stdout for --help (errHelp), else to m.Stderr (errUsage).
func (m *Main) subcommand(args []string, usage string, subs ...string) error {
	switch {
	case len(args) > 0 && slices.Contains(subs, args[0]):
		return nil
	case len(args) > 0 && (args[0] == "--help" || args[0] == "-h"):
		fmt.Fprint(m.Stdout, usage)
		return errHelp
	}
	fmt.Fprint(m.Stderr, usage)
	return errUsage
}

// list runs a list sub-command, name [--store URL]: it prints a table of
// the rows that rows reads through the mechanism (columns separated by
// tabs) under the header.
func (m *Main) list(ctx context.Context, name string, args []string, header string, rows func(*mechanism.Mechanism) ([]string, error)) error {
	fs := m.newFlags(name, name+" [--store URL]")
	store := m.storeFlag(fs)
	if _, err := m.parse(fs, args); err != nil {
		return err
	}
	return withMechanism(ctx, *store, func(mech *mechanism.Mechanism) error {
		rs, err := rows(mech)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, header)
		for _, r := range rs {
			fmt.Fprintln(tw, r)
		}
		return tw.Flush()
	})
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
