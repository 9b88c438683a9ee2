// Trunk post_build hook: turns wasm-bindgen's no-modules glue into leadgate.js, a classic
// script that works with async/defer, as a module, inserted by a tag manager, and twice on
// one page (the second copy does nothing). It loads leadgate_bg.wasm from beside itself.
// In release builds it first shrinks the wasm and the glue together (scripts/shrink-glue.mjs)
// and, last, minifies leadgate.js with terser (Trunk.toml leaves the glue unminified for it:
// terser's output is ~310 B brotli smaller than Trunk's, and it drops the glue's dead classes).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { minify } from "terser";
import { shrinkGlue } from "./shrink-glue.mjs";

const dir = process.env.TRUNK_STAGING_DIR ?? process.argv[2];
if (!dir) {
  console.error("wrap-glue: set TRUNK_STAGING_DIR or pass the dist directory");
  process.exit(2);
}
const release = (process.env.TRUNK_PROFILE ?? "release") === "release";
const file = join(dir, "leadgate.js");
const MARK = "/*leadgate*/";
let glue = readFileSync(file, "utf8");
if (glue.startsWith(MARK)) process.exit(0);
const removed = release ? shrinkGlue(join(dir, "leadgate_bg.wasm"), file) : [];
glue = readFileSync(file, "utf8");

// When the widget cannot start (no WebAssembly, the wasm not fetched, refused by a CSP without
// 'wasm-unsafe-eval', or crashed while starting), every mount element that is not ready gets
// data-leadgate-state="error" and a leadgate:error event (bubbling, composed; also pushed to
// dataLayer) whose detail names the reason: "unsupported", "network" (offline, CORS, the page's
// connect-src), "http" (an error status), "compile" (a CSP, a broken file) or "start". Nothing
// is attached to the element, so the marketer's fallback content inside it stays visible;
// elements added later get the same treatment.
const wrapped = `${MARK}(function(){"use strict";
if(window.leadgate&&window.leadgate.loaded)return;
window.leadgate=Object.assign(window.leadgate||{},{loaded:true});
var s=document.currentScript;
if(!s||!s.src){var all=document.querySelectorAll('script[src*="leadgate.js"]');s=all[all.length-1];}
var wasm=new URL("leadgate_bg.wasm",s?s.src:location.href);
function fail(reason,e){
var error="leadgate: the widget could not start ("+reason+"): "+(e&&e.message||e);
console.error(error);
function mark(){
var hosts=document.querySelectorAll("[data-leadgate]:not([data-leadgate-state=ready]):not([data-leadgate-state=error])");
for(var i=0;i<hosts.length;i++){
var host=hosts[i],form_id="",config=host.getAttribute("data-config")||"";
if(config.charAt(0)==="#")try{form_id=JSON.parse(document.getElementById(config.slice(1)).textContent).form_id||"";}catch(_){}
var detail={form_id:String(form_id),error:error,reason:reason};
host.setAttribute("data-leadgate-state","error");
host.dispatchEvent(new CustomEvent("leadgate:error",{bubbles:true,composed:true,detail:detail}));
if(Array.isArray(window.dataLayer))window.dataLayer.push({event:"leadgate:error",leadgate:detail});
}}
mark();
new MutationObserver(mark).observe(document.documentElement,{childList:true,subtree:true});
}
if(typeof WebAssembly!=="object"){fail("unsupported","this browser has no WebAssembly");return;}
${glue}
var stage="network";
var response=fetch(wasm).then(function(r){stage=r.ok?"compile":"http";if(!r.ok)throw new Error("HTTP "+r.status+" for "+wasm);return r;});
window.leadgate.ready=wasm_bindgen({module_or_path:response}).then(function(){return window.leadgate;},function(e){fail(e instanceof WebAssembly.RuntimeError?"start":stage,e);throw e;});
})();
`;
if (!release) {
  writeFileSync(file, wrapped);
  process.exit(0);
}
const { code } = await minify(wrapped.slice(MARK.length), { compress: { passes: 2 } });
// The exports shrink-glue removed must be gone from the glue with the code that called them.
const left = (removed ?? []).filter((name) => new RegExp(`\\.${name}(?![\\w$])`).test(code));
if (left.length) {
  console.error(`wrap-glue: the minified glue still names removed wasm exports: ${left.join(" ")}`);
  process.exit(1);
}
writeFileSync(file, MARK + code);
