// A tdmscan gate for Go crawlers: `tdmscan serve` over net/http, standard library only.
//
// Ingest is true only for "allowed". Anything else (reserved, unknown, invalid, or the
// service unreachable) means: do not fetch or keep the page. Fail closed.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Decision is the JSON a check returns (the fields a crawler acts on; see /openapi.json).
type Decision struct {
	Input   string          `json:"input"`
	URL     string          `json:"url"`
	Agent   string          `json:"agent"`
	Purpose string          `json:"purpose"`
	Verdict string          `json:"verdict"`
	Ingest  bool            `json:"ingest"`
	Reasons []string        `json:"reasons"`
	Robots  json.RawMessage `json:"robots"`
	// A batch line the server could not decide carries Error instead of a verdict.
	Error   string `json:"error,omitempty"`
	Message string `json:"message,omitempty"`
}

// APIError is a 4xx/5xx answer: {"error": code, "message": one line}.
type APIError struct {
	Status  int
	Code    string `json:"error"`
	Message string `json:"message"`
}

func (e *APIError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// Gate talks to one tdmscan serve instance. Reuse it: its http.Client keeps connections.
type Gate struct {
	Server  string // http://127.0.0.1:8787
	Token   string // bearer token, when the server runs with --token-file
	Agent   string // optional: the server's --agent by default
	Purpose string // optional: train-ai, ai-input, search or tdm
	HTTP    *http.Client
}

func NewGate(server, token string) *Gate {
	return &Gate{
		Server: strings.TrimRight(server, "/"),
		Token:  token,
		// No proxy: HTTP_PROXY is meant for the crawl, not for the service next to it.
		HTTP: &http.Client{
			Timeout:   60 * time.Second,
			Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64},
		},
	}
}

func (g *Gate) query(extra url.Values) string {
	q := url.Values{}
	for k, v := range extra {
		q[k] = v
	}
	if g.Agent != "" {
		q.Set("agent", g.Agent)
	}
	if g.Purpose != "" {
		q.Set("purpose", g.Purpose)
	}
	return q.Encode()
}

func (g *Gate) do(ctx context.Context, method, path, ctype string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, g.Server+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if g.Token != "" {
		req.Header.Set("Authorization", "Bearer "+g.Token)
	}
	resp, err := g.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		apiErr := &APIError{Status: resp.StatusCode}
		if json.NewDecoder(resp.Body).Decode(apiErr) != nil {
			apiErr.Code = "http-error"
		}
		return nil, apiErr
	}
	return resp, nil
}

// Check decides one URL.
func (g *Gate) Check(ctx context.Context, u string) (*Decision, error) {
	resp, err := g.do(ctx, "GET", "/v1/check?"+g.query(url.Values{"url": {u}}), "", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var d Decision
	return &d, json.NewDecoder(resp.Body).Decode(&d)
}

// CheckMany decides many URLs; fn is called for each answer in input order, as it streams in.
func (g *Gate) CheckMany(ctx context.Context, urls []string, fn func(*Decision) error) error {
	body, err := json.Marshal(urls)
	if err != nil {
		return err
	}
	resp, err := g.do(ctx, "POST", "/v1/check?"+g.query(nil), "application/json", body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024) // a line with all agents' evidence is long
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var d Decision
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			return err
		}
		if err := fn(&d); err != nil {
			return err
		}
	}
	return sc.Err()
}

// CheckResponse decides a page the crawler fetched, from its headers and first bytes.
func (g *Gate) CheckResponse(ctx context.Context, u string, status int, header http.Header, head []byte) (*Decision, error) {
	pairs := [][2]string{}
	for k, vs := range header {
		for _, v := range vs {
			pairs = append(pairs, [2]string{k, v})
		}
	}
	if len(head) > 512*1024 {
		head = head[:512*1024]
	}
	doc := map[string]any{
		"url": u, "status": status, "headers": pairs,
		"body_base64": base64.StdEncoding.EncodeToString(head),
	}
	if g.Agent != "" {
		doc["agent"] = g.Agent
	}
	if g.Purpose != "" {
		doc["purpose"] = g.Purpose
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	resp, err := g.do(ctx, "POST", "/v1/response", "application/json", body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var d Decision
	return &d, json.NewDecoder(resp.Body).Decode(&d)
}
