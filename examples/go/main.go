// go run . -server http://127.0.0.1:8787 [-token-file F] URL...
// Prints one JSON line per step: each URL checked alone, then all of them as one streamed
// batch, then the first allowed one "fetched" and its response checked with a noai header.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
)

func main() {
	server := flag.String("server", "http://127.0.0.1:8787", "tdmscan serve URL")
	tokenFile := flag.String("token-file", "", "file with the bearer token")
	flag.Parse()
	token := ""
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "error:", err)
			os.Exit(2)
		}
		token = strings.TrimSpace(string(b))
	}
	gate := NewGate(*server, token)
	ctx := context.Background()
	out := json.NewEncoder(os.Stdout)
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}

	firstAllowed := ""
	for _, u := range flag.Args() {
		d, err := gate.Check(ctx, u)
		if err != nil {
			fail(err)
		}
		if d.Ingest && firstAllowed == "" {
			firstAllowed = u
		}
		out.Encode(map[string]any{"step": "check", "url": u, "verdict": d.Verdict, "ingest": d.Ingest, "reasons": d.Reasons})
	}
	err := gate.CheckMany(ctx, flag.Args(), func(d *Decision) error {
		return out.Encode(map[string]any{"step": "batch", "input": d.Input, "verdict": d.Verdict, "ingest": d.Ingest})
	})
	if err != nil {
		fail(err)
	}
	if firstAllowed != "" {
		h := http.Header{}
		h.Set("X-Robots-Tag", "noai")
		d, err := gate.CheckResponse(ctx, firstAllowed, 200, h, []byte("<html></html>"))
		if err != nil {
			fail(err)
		}
		out.Encode(map[string]any{"step": "response", "url": firstAllowed, "verdict": d.Verdict, "reasons": d.Reasons})
	}
}
