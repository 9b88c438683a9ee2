// Load benchmark (reports numbers; not a test): the demo landing page with the widget versus
// the same page with a vanilla-JS form, in headless Chromium with DevTools "Slow 4G"
// (562.5 ms latency, 180,000 B/s) and 4x CPU slowdown, served brotli/gzip-compressed like a
// CDN would. Medians of 7 runs: time to an interactive form, longest main-thread task (and the
// longest in which the page's form script itself ran), total blocking time, CLS, bytes; and
// whether the JS and the wasm downloaded in parallel.
//   node scripts/bench-load.mjs [runs]        (needs dist/: bash scripts/build.sh)
// CHROMIUM_ARGS adds Chromium flags, for experiments: CHROMIUM_ARGS="--js-flags=--no-wasm-lazy-compilation"
// shows the widget's start without V8 compiling each wasm function on the main thread at its
// first call (visitors' browsers compile lazily: that is not a setting a page can choose).
import { createServer } from "node:http";
import { readFileSync, existsSync } from "node:fs";
import { extname, join, normalize } from "node:path";
import { brotliCompressSync, gzipSync } from "node:zlib";
import { chromium } from "playwright-core";

const RUNS = Number(process.argv[2] ?? 7);
const root = process.cwd();
const types = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm",
  ".css": "text/css", ".json": "application/json" };
const cache = new Map();
function body(path, encoding) {
  const key = path + encoding;
  if (!cache.has(key)) {
    const raw = readFileSync(path);
    cache.set(key, encoding === "br" ? brotliCompressSync(raw) : encoding === "gzip" ? gzipSync(raw, { level: 9 }) : raw);
  }
  return cache.get(key);
}
const server = createServer((req, res) => {
  let url = decodeURIComponent(req.url.split("?")[0]);
  if (req.method === "POST") { res.writeHead(201); res.end("{}"); return; }
  if (url === "/") url = "/index.html";
  const candidates = [join(root, "dist", url), join(root, "bench", url), join(root, url)];
  const path = candidates.map(normalize).find((p) => p.startsWith(root) && existsSync(p));
  if (!path) { res.writeHead(404); res.end(); return; }
  const accept = req.headers["accept-encoding"] ?? "";
  const encoding = accept.includes("br") ? "br" : accept.includes("gzip") ? "gzip" : "";
  const headers = { "Content-Type": types[extname(path)] ?? "application/octet-stream", "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; connect-src 'self'; img-src 'self' data:" };
  if (encoding) headers["Content-Encoding"] = encoding;
  res.writeHead(200, headers);
  res.end(body(path, encoding));
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const base = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", ...(process.env.CHROMIUM_ARGS ?? "").split(" ").filter(Boolean)],
});

const observe = () => {
  window.__tasks = []; window.__cls = 0;
  new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__tasks.push(e.duration); })
    .observe({ type: "longtask", buffered: true });
  new PerformanceObserver((l) => { for (const e of l.getEntries()) if (!e.hadRecentInput) window.__cls += e.value; })
    .observe({ type: "layout-shift", buffered: true });
  document.addEventListener("leadgate:ready", () => { window.__formReady = performance.now(); });
};

async function run(path) {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 562.5,
    downloadThroughput: 180000, uploadThroughput: 84375 });
  await cdp.send("Emulation.setCPUThrottlingRate", { rate: 4 });
  let bytes = 0;
  cdp.on("Network.loadingFinished", (e) => { bytes += e.encodedDataLength; });
  await page.addInitScript(observe);
  await browser.startTracing(page, { categories: ["devtools.timeline", "disabled-by-default-devtools.timeline", "v8.execute"] });
  await page.goto(base + path, { waitUntil: "load" });
  await page.waitForFunction(() => window.__formReady !== undefined, null, { timeout: 60000 });
  await page.waitForTimeout(500);
  const own = ownLongestTask(JSON.parse((await browser.stopTracing()).toString()).traceEvents);
  const m = await page.evaluate(() => {
    const res = performance.getEntriesByType("resource");
    const start = (n) => { const r = res.find((e) => e.name.includes(n)); return r ? r.startTime : null; };
    return { ready: window.__formReady, longest: Math.max(0, ...window.__tasks),
      tbt: window.__tasks.reduce((s, d) => s + Math.max(0, d - 50), 0), cls: window.__cls,
      js: start("leadgate.js"), wasm: start("leadgate_bg.wasm") };
  });
  await context.close();
  return { ...m, bytes, own };
}

// The longest main-thread task in which the page's own script ran (the widget's glue and wasm,
// or the vanilla form's script): the page's own layout and parsing tasks are left out, so the
// figure is what the script adds. A task counts as the script's when it evaluates or calls into
// a script served from this origin's /leadgate.js or /vanilla.js, or compiles/instantiates wasm.
function ownLongestTask(events) {
  const tasks = events.filter((e) => e.name === "RunTask" && e.ph === "X");
  const ours = events.filter((e) => {
    const url = e.args?.data?.url ?? e.args?.data?.stackTrace?.[0]?.url ?? "";
    return (e.name === "EvaluateScript" || e.name === "FunctionCall" || e.name === "TimerFire"
        || e.name === "FireAnimationFrame" || e.name === "EventDispatch" || e.name.startsWith("v8.wasm"))
      && (e.name.startsWith("v8.wasm") || e.name === "TimerFire" || /leadgate|vanilla/.test(url));
  });
  let longest = 0;
  for (const t of tasks) {
    if (t.dur / 1000 <= longest) continue;
    const inside = ours.some((e) => e.pid === t.pid && e.tid === t.tid && e.ts >= t.ts && e.ts < t.ts + t.dur);
    if (inside) longest = t.dur / 1000;
  }
  return longest;
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const report = {};
const perRun = {};
for (const [name, path] of [["leadgate widget", "/index.html"], ["vanilla JS form", "/vanilla.html"]]) {
  const runs = [];
  for (let i = 0; i < RUNS; i++) runs.push(await run(path));
  report[name] = {
    "interactive form (ms)": Math.round(median(runs.map((r) => r.ready))),
    "longest task (ms)": Math.round(median(runs.map((r) => r.longest))),
    "longest task of its own script (ms)": Math.round(median(runs.map((r) => r.own))),
    "total blocking time (ms)": Math.round(median(runs.map((r) => r.tbt))),
    "CLS": Number(median(runs.map((r) => r.cls)).toFixed(3)),
    "bytes over the wire": median(runs.map((r) => r.bytes)),
  };
  // The bar is per run (its own longest task under 50 ms in every run), so each run is listed.
  perRun[name] = runs.map((r) => `${Math.round(r.own)}/${Math.round(r.longest)}/${Math.round(r.tbt)}`).join("  ");
  if (runs[0].js !== null && runs[0].wasm !== null) {
    report[name]["wasm request starts after the JS request (ms)"] = Math.round(median(runs.map((r) => r.wasm - r.js)));
  }
}
console.log(`Slow 4G (562.5 ms, 180,000 B/s), 4x CPU slowdown, medians of ${RUNS} runs:`);
console.table(report);
console.log("each run: longest task of its own script / longest task / total blocking time (ms)");
for (const [name, line] of Object.entries(perRun)) console.log(`  ${name}: ${line}`);
await browser.close();
server.close();
