// A tdmscan gate for Node crawlers: `tdmscan serve` over Node's fetch (Node 18+), no packages.
//
//   import { TdmscanGate, preNavigationHook } from './tdmscan.mjs';
//   const gate = new TdmscanGate({ server: 'http://127.0.0.1:8787', token: process.env.TDMSCAN_TOKEN });
//   const crawler = new CheerioCrawler({ preNavigationHooks: [preNavigationHook(gate)], ... });
//
// `ingest` is true only for `allowed`. Anything else (reserved, unknown, invalid, or the
// service unreachable) means: do not fetch or keep the page. Fail closed.

export class TdmscanError extends Error {
  constructor(status, error, message) {
    super(`${status} ${error}: ${message}`);
    this.status = status;
    this.error = error;
  }
}

export class TdmscanGate {
  constructor({ server = 'http://127.0.0.1:8787', token, agent, purpose, timeoutMs = 60_000 } = {}) {
    this.server = server.replace(/\/+$/, '');
    this.headers = token ? { Authorization: `Bearer ${token}` } : {};
    this.agent = agent;
    this.purpose = purpose;
    this.timeoutMs = timeoutMs;
  }

  #query(extra = {}) {
    const q = new URLSearchParams(extra);
    if (this.agent) q.set('agent', this.agent);
    if (this.purpose) q.set('purpose', this.purpose);
    return q;
  }

  async #fetch(path, init = {}) {
    const res = await fetch(this.server + path, {
      ...init,
      headers: { ...this.headers, ...(init.headers || {}) },
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (res.status >= 400) {
      let body = {};
      try { body = await res.json(); } catch { /* not JSON */ }
      throw new TdmscanError(res.status, body.error || 'http-error', body.message || res.statusText);
    }
    return res;
  }

  /** The decision for one URL: { verdict, ingest, reasons, evidence, robots, ... }. */
  async check(url) {
    const res = await this.#fetch(`/v1/check?${this.#query({ url })}`);
    return res.json();
  }

  /** Decisions for many URLs, yielded in input order as the server streams them. */
  async *checkMany(urls) {
    const res = await this.#fetch(`/v1/check?${this.#query()}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(urls),
    });
    let buffered = '';
    for await (const chunk of res.body.pipeThrough(new TextDecoderStream())) {
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line) yield JSON.parse(line);
      }
    }
    if (buffered.trim()) yield JSON.parse(buffered);
  }

  /** The page-level decision for a response the crawler fetched (headers + first bytes). */
  async checkResponse(url, status, headers, body = '') {
    const pairs = headers instanceof Headers ? [...headers.entries()]
      : Array.isArray(headers) ? headers : Object.entries(headers || {});
    const doc = { url, status, headers: pairs.map(([k, v]) => [String(k), String(v)]) };
    if (typeof body === 'string') doc.body = body.slice(0, 512 * 1024);
    else doc.body_base64 = Buffer.from(body.subarray(0, 512 * 1024)).toString('base64');
    if (this.agent) doc.agent = this.agent;
    if (this.purpose) doc.purpose = this.purpose;
    const res = await this.#fetch('/v1/response', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(doc),
    });
    return res.json();
  }
}

/**
 * A Crawlee pre-navigation hook: requests tdmscan does not allow are never fetched.
 * Crawlee 4 has `skipRequest` (handled, not retried, not a failure); on Crawlee 3 the request
 * is failed once with `noRetry`. The decision is left in `request.userData.tdmscan`.
 */
export function preNavigationHook(gate) {
  return async (ctx) => {
    const { request } = ctx;
    let d;
    try {
      d = await gate.check(request.url);
    } catch (err) {
      // Service down or refusing: fail closed, and let Crawlee retry later.
      throw new Error(`tdmscan unavailable: ${err.message}`);
    }
    request.userData.tdmscan = { verdict: d.verdict, reasons: d.reasons };
    if (d.ingest) return;
    const why = `tdmscan: ${d.verdict} (${d.reasons.join(', ') || 'no reason'})`;
    if (typeof ctx.skipRequest === 'function') return ctx.skipRequest(why);
    request.noRetry = true;
    throw new Error(why);
  };
}
