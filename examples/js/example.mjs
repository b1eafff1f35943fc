// Runs the gate the way a crawler would, printing one JSON line per step:
//   node examples/js/example.mjs --server http://127.0.0.1:8787 [--token-file F] URL...
// Each URL goes through the Crawlee hook (with a stand-in for Crawlee's context, so this
// runs without installing Crawlee), then all of them through one streamed batch, then the
// first allowed one is "fetched" and its response checked with a noai header.
import { readFileSync } from 'node:fs';
import { TdmscanGate, preNavigationHook } from './tdmscan.mjs';

const args = process.argv.slice(2);
let server = 'http://127.0.0.1:8787';
let token;
const urls = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--server') server = args[++i];
  else if (args[i] === '--token-file') token = readFileSync(args[++i], 'utf8').trim();
  else urls.push(args[i]);
}

const gate = new TdmscanGate({ server, token });
const hook = preNavigationHook(gate);
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

let firstAllowed;
for (const url of urls) {
  const request = { url, userData: {}, noRetry: false };
  let skipped = null;
  try {
    await hook({ request });
    firstAllowed ??= url;
  } catch (err) {
    skipped = err.message;
  }
  out({ step: 'hook', url, fetch: skipped === null, noRetry: request.noRetry, ...request.userData.tdmscan });
}
for await (const d of gate.checkMany(urls)) {
  out({ step: 'batch', input: d.input, verdict: d.verdict, ingest: d.ingest });
}
if (firstAllowed) {
  const d = await gate.checkResponse(firstAllowed, 200, { 'X-Robots-Tag': 'noai' }, '<html></html>');
  out({ step: 'response', url: firstAllowed, verdict: d.verdict, reasons: d.reasons });
}
