// After Trunk's wasm-opt, what wasm-opt cannot do on its own because the glue (wasm-bindgen's
// leadgate.js) must change with the wasm. Called by scripts/wrap-glue.mjs (release builds) and
// scripts/size-top.sh; measured 2026-11-29 with scripts/size.mjs (brotli, whole download):
//
// 1. Exports nothing can call are removed, with the code only they reach (-~760 B):
//    - the JS classes wasm-bindgen exports for a dependency (wasm_streams' IntoUnderlyingSource,
//      -Sink and -ByteSource, linked in through Leptos's server functions): the widget never
//      creates one (the glue never wraps one: no `Class.__wrap(`), and the glue is sealed
//      inside wrap-glue's closure, so no page script can reach them either. Their glue goes too
//      (the minifier drops the unused class);
//    - exports the glue never names (`main`, which the start function calls anyway, a split
//      marker, an unused realloc).
// 2. One more wasm-opt pass, with index.html's level and params, over what is left; the
//    `producers` and `target_features` sections (158 B that browsers ignore) go.
// 3. Import and export names are minified on both sides (wasm-opt's
//    --minify-imports-and-exports-and-modules, and its map applied to the glue): 161 imports
//    such as `"./leadgate_bg.js" "__wbg_addEventListener_3fa2c2f6ffb0d5fb"` become `"a" "b"`, in
//    the wasm and in the glue, where their hashes don't compress (-~3.8 KB).
// Every rename is checked (each name found where it is expected, the right number of times):
// a wasm-bindgen whose glue looks different stops the build instead of shipping a broken pair.
//
//   node scripts/shrink-glue.mjs <wasm> <js> [--keep-names]   (in place; --keep-names: only 1
//   and 2, with the wasm's name section kept, for twiggy)
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
// The module wasm-bindgen names in the glue's imports object.
const MODULE = "./leadgate_bg.js";

function fail(message) {
  throw new Error(`shrink-glue: ${message}`);
}

const escape = (s) => s.replace(/[$.*+?^(){}|[\]\\]/g, "\\$&");
// A name as a whole JS token (not part of a longer identifier).
const token = (name) => new RegExp(`(?<![\\w$])${escape(name)}(?![\\w$])`, "g");
const count = (text, re) => (text.match(re) ?? []).length;

// wasm-opt as Trunk runs it: the pinned binaryen from npm (Trunk.toml's `wasm_opt`), with the
// level and params of index.html's rust link.
function wasmOpt() {
  const bin = `${root}node_modules/.bin/wasm-opt`;
  const version = execFileSync(bin, ["--version"], { encoding: "utf8" });
  if (!version.includes("version 132")) fail(`wasm-opt is not binaryen 132: ${version}`);
  const html = readFileSync(process.env.TRUNK_HTML_FILE ?? `${root}index.html`, "utf8");
  const link = html.match(/<link data-trunk rel="rust"[^>]*>/)?.[0] ?? fail("no rust link in index.html");
  const level = link.match(/data-wasm-opt="(\w)"/)?.[1] ?? fail("no data-wasm-opt level");
  const params = link.match(/data-wasm-opt-params="([^"]*)"/)?.[1].split(/\s+/) ?? [];
  return { bin, level, params };
}

export function shrinkGlue(wasmPath, jsPath, { keepNames = false } = {}) {
  let js = readFileSync(jsPath, "utf8");
  const module = new WebAssembly.Module(readFileSync(wasmPath));
  const imports = WebAssembly.Module.imports(module);
  const exports = WebAssembly.Module.exports(module).map((e) => e.name);
  if (!imports.every((i) => i.module === MODULE)) return; // done already

  // 1. Dead exports.
  const dead = new Set(exports.filter((name) => count(js, token(name)) === 0));
  for (const [, cls] of js.matchAll(/^\s*exports\.(\w+) = \1;$/gm)) {
    if (js.includes(`${cls}.__wrap(`)) continue;
    const lower = cls.toLowerCase();
    const own = exports.filter((n) => n.startsWith(`${lower}_`) || n === `__wbg_${lower}_free`);
    if (own.length === 0) continue;
    own.forEach((n) => dead.add(n));
    const parts = [
      new RegExp(`^\\s*exports\\.${cls} = ${cls};\\n`, "m"),
      new RegExp(`^\\s*if \\(Symbol\\.dispose\\) ${cls}\\.prototype\\[Symbol\\.dispose\\] = ${cls}\\.prototype\\.free;\\n`, "m"),
      new RegExp(`^\\s*const ${cls}Finalization = [^;]*;\\n`, "m"),
    ];
    for (const part of parts) {
      if (count(js, new RegExp(part.source, "gm")) !== 1) fail(`${cls}: expected ${part} once`);
      js = js.replace(part, "");
    }
  }

  // 2 and 3: one wasm-opt run (its passes run in the order given).
  const opt = wasmOpt();
  const args = [wasmPath, "-o", wasmPath, ...opt.params];
  if (dead.size) args.push("--remove-exports", `--pass-arg=remove-exports@${[...dead].join(",")}`);
  args.push(`-O${opt.level}`);
  if (keepNames) args.push("-g");
  else args.push("--strip-producers", "--strip-target-features", "--minify-imports-and-exports-and-modules");
  const map = execFileSync(opt.bin, args, { encoding: "utf8", maxBuffer: 1 << 24 });
  if (keepNames) return writeFileSync(jsPath, js);

  const { imports: importMap, exports: exportMap } = JSON.parse(map);
  const ident = /^[A-Za-z_$][\w$]*$/;
  for (const [, name, mini] of importMap) {
    // The key of the glue's imports object: exactly once.
    if (!ident.test(mini) || count(js, token(name)) !== 1) fail(`import ${name}: not once in the glue`);
    js = js.replace(token(name), mini);
  }
  for (const [name, mini] of exportMap) {
    // Used as a member of the exports object, `wasm.name`, never by a string (a glue function
    // may have the same name: left alone, the minifier renames it).
    const member = new RegExp(`(?<![\\w$])wasm\\.${escape(name)}(?![\\w$])`, "g");
    const quoted = new RegExp(`["'\`]${escape(name)}["'\`]`);
    if (!ident.test(mini) || count(js, member) === 0 || quoted.test(js)) {
      fail(`export ${name}: not used as wasm.${name} only`);
    }
    js = js.replace(member, `wasm.${mini}`);
  }
  const modules = new Set(
    WebAssembly.Module.imports(new WebAssembly.Module(readFileSync(wasmPath))).map((i) => i.module),
  );
  const key = `${JSON.stringify(MODULE)}:`;
  if (modules.size !== 1 || count(js, new RegExp(escape(key), "g")) !== 1) fail("the import module");
  js = js.replace(key, `${JSON.stringify([...modules][0])}:`);
  writeFileSync(jsPath, js);
  return [...dead];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [wasm, js, flag] = process.argv.slice(2);
  if (!js) fail("usage: node scripts/shrink-glue.mjs <wasm> <js> [--keep-names]");
  shrinkGlue(wasm, js, { keepNames: flag === "--keep-names" });
}
