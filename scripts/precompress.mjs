// Writes a brotli (.br, quality 11) and a gzip (.gz, level 9) copy beside every text and wasm
// file of dist/, for servers that serve precompressed files (the relay's `--demo-dir` and
// widget files: tower-http's ServeDir picks `leadgate_bg.wasm.br` for `Accept-Encoding: br`).
// Compressing once at build time lets the slowest, best setting pay off on every request.
//   node scripts/precompress.mjs [dist]
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { extname, join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const dist = process.argv[2] ?? "dist";
const compressible = new Set([".html", ".js", ".mjs", ".wasm", ".css", ".json", ".svg", ".txt"]);
let files = 0;
for (const entry of readdirSync(dist, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !compressible.has(extname(entry.name))) continue;
  const path = join(entry.parentPath ?? entry.path, entry.name);
  const raw = readFileSync(path);
  // The same setting as scripts/size.mjs, so the .br files are the bytes the budget counts.
  const br = brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } });
  writeFileSync(path + ".br", br);
  writeFileSync(path + ".gz", gzipSync(raw, { level: 9 }));
  files += 1;
}
console.log(`precompressed ${files} files in ${dist}/ (.br, .gz)`);
