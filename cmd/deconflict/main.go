// Command deconflict runs the joint deconfliction mechanism: the server,
// and the commands that manage its parties and tokens.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := &Main{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	os.Exit(m.Run(ctx, os.Args[1:]))
}

// Main is the program, with its outputs and environment injected so that
// tests run it in process.
type Main struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Ready, if set, receives the address the server listens on.
	Ready func(addr string)
}

const usage = `deconflict: the joint deconfliction mechanism

Usage:
  deconflict serve [--listen ADDR] [--store URL]   run the server
  deconflict demo [--listen ADDR] [--store URL]    run the server with a demo scenario
  deconflict party add ID [--name NAME]            create a party
  deconflict party list                            list parties
  deconflict party key new|add ID [PUBKEY]         register a party's own key for signed acknowledgements
  deconflict token issue --role ROLE [--party ID] [--label TEXT]
                                                   print a new bearer token
  deconflict token list                            list tokens (never their secrets)
  deconflict token revoke ID                       revoke a token at once
  deconflict watch [--server URL] [--token TOKEN]  follow the live events in readable lines
  deconflict ack conflict|operation|message ID     acknowledge from the shell
  deconflict verify BUNDLE [--key PUBKEY] [--node-key KEY]...
                                                   verify an evidence bundle offline
  deconflict witness --server URL --token TOKEN --state DIR
                                                   check the log was never rewritten
  deconflict key show|list|rotate                  the key that signs checkpoints
  deconflict federation init|peer|status           run this node as one of a federation

Every command that touches data takes --store URL (env DECONFLICT_STORE):
sqlite:PATH (default sqlite:deconflict.db) or postgres://...
watch and ack take --server URL (env DECONFLICT_SERVER, default
http://127.0.0.1:8080) and --token TOKEN (env DECONFLICT_TOKEN).
Run 'deconflict COMMAND --help' for a command's flags.
`

// Run runs the command named by args and returns the exit status.
func (m *Main) Run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(m.Stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = m.serve(ctx, args[1:], false)
	case "demo":
		err = m.serve(ctx, args[1:], true)
	case "party":
		err = m.party(ctx, args[1:])
	case "token":
		err = m.token(ctx, args[1:])
	case "watch":
		err = m.watch(ctx, args[1:])
	case "ack":
		err = m.ack(ctx, args[1:])
	case "verify":
		err = m.verify(ctx, args[1:])
	case "witness":
		err = m.witness(ctx, args[1:])
	case "key":
		err = m.key(ctx, args[1:])
	case "federation":
		err = m.federation(ctx, args[1:])
	case "-h", "--help", "help":
		fmt.Fprint(m.Stdout, usage)
		return 0
	default:
		fmt.Fprintf(m.Stderr, "deconflict: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case err == errHelp:
		return 0
	case err == errUsage:
		return 2
	}
	fmt.Fprintf(m.Stderr, "deconflict %s: %v\n", args[0], errorText(err))
	return 1
}
