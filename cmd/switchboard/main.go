// Command switchboard is the Switchboard real-time event hub.
//
//	switchboard serve [--config FILE] [flags]   run the hub
//	switchboard genconfig [-o FILE] [--tls]     write a config with fresh secrets
//	switchboard gentoken --user ID [--ttl D]    mint a client JWT
//	switchboard bench [flags]                   measure fan-out
//	switchboard version
package main

import (
	"fmt"
	"os"
)

const usage = `switchboard — a real-time event hub

Usage:
  switchboard serve [--config FILE] [flags]   run the hub (no config: embedded defaults)
  switchboard genconfig [-o FILE] [--tls]     write a commented config with fresh secrets
  switchboard gentoken --user ID [--ttl 24h]  print an HS256 client token signed with token_secret
  switchboard bench [flags]                   measure fan-out, latency, set-up rate and memory
  switchboard version                         print the version

Run "switchboard COMMAND -h" for the flags of a command.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	args := os.Args[2:]
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(args)
	case "genconfig":
		err = genconfig(args, os.Stdout)
	case "gentoken":
		err = gentoken(args, os.Stdout)
	case "bench":
		err = bench(args)
	case "version", "--version", "-v":
		err = version(os.Stdout)
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "switchboard: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "switchboard %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
