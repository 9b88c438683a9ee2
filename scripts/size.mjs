// Size report and budget: what every visitor downloads, compressed with brotli (quality 11,
// as CDNs serve it). Fails when the total exceeds size-budget.json.
//   node scripts/size.mjs [dist]
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, constants } from "node:zlib";

const dist = process.argv[2] ?? "dist";
const budget = JSON.parse(readFileSync("size-budget.json", "utf8"));
const brotli = (bytes) =>
  brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;

// The CSS is compiled into the wasm (adopted by the shadow root): listed, not added twice.
const files = [
  ["leadgate.js", join(dist, "leadgate.js"), true],
  ["leadgate_bg.wasm", join(dist, "leadgate_bg.wasm"), true],
  ["style/widget.css (source; minified into the wasm)", "style/widget.css", false],
];
let total = 0;
console.log("file                                   raw bytes   brotli bytes");
for (const [name, path, counted] of files) {
  const bytes = readFileSync(path);
  const size = brotli(bytes);
  if (counted) total += size;
  console.log(`${name.padEnd(38)} ${String(bytes.length).padStart(9)}   ${String(size).padStart(12)}`);
}
const kb = (n) => (n / 1024).toFixed(1) + " KB";
console.log(`total shipped (brotli): ${total} bytes = ${kb(total)}; budget ${kb(budget.total_brotli_bytes)}`);
if (total > budget.total_brotli_bytes) {
  console.error(`size budget exceeded by ${total - budget.total_brotli_bytes} bytes (size-budget.json)`);
  process.exit(1);
}
