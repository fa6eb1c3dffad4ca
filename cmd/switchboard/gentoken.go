package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/switchboard-hub/switchboard/internal/app"
	"github.com/switchboard-hub/switchboard/internal/token"
)

func gentoken(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("gentoken", flag.ContinueOnError)
	user := fs.String("user", "", "user id for the token's sub claim (required)")
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the token is valid")
	configPath := fs.String("config", "", "config file whose token_secret signs the token")
	secret := fs.String("secret", "", "token secret (default: token_secret from --config or $SWITCHBOARD_TOKEN_SECRET)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *user == "" {
		return errors.New("--user is required")
	}
	if *ttl <= 0 {
		return errors.New("--ttl must be positive")
	}
	key := *secret
	if key == "" && *configPath != "" {
		cfg, err := app.Load(*configPath)
		if err != nil {
			return err
		}
		key = cfg.TokenSecret
	}
	if key == "" {
		key = os.Getenv("SWITCHBOARD_TOKEN_SECRET")
	}
	if key == "" {
		return errors.New("no token secret: pass --config FILE (with token_secret), --secret or $SWITCHBOARD_TOKEN_SECRET")
	}
	tok, err := token.Mint([]byte(key), *user, *ttl, time.Now())
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(out, tok)
	return err
}
