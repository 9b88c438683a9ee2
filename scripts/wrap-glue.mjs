// Trunk post_build hook: turns wasm-bindgen's no-modules glue into leadgate.js, a classic
// script that works with async/defer, as a module, inserted by a tag manager, and twice on
// one page (the second copy does nothing). It loads leadgate_bg.wasm from beside itself.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const dir = process.env.TRUNK_STAGING_DIR ?? process.argv[2];
if (!dir) {
  console.error("wrap-glue: set TRUNK_STAGING_DIR or pass the dist directory");
  process.exit(2);
}
const file = join(dir, "leadgate.js");
const glue = readFileSync(file, "utf8");
if (glue.startsWith("/*leadgate*/")) process.exit(0);

const wrapped = `/*leadgate*/(function(){"use strict";
if(window.leadgate&&window.leadgate.loaded)return;
window.leadgate=Object.assign(window.leadgate||{},{loaded:true});
var s=document.currentScript;
if(!s||!s.src){var all=document.querySelectorAll('script[src*="leadgate.js"]');s=all[all.length-1];}
var wasm=new URL("leadgate_bg.wasm",s?s.src:location.href);
${glue}
window.leadgate.ready=wasm_bindgen({module_or_path:wasm}).then(function(){return window.leadgate;},function(e){console.error("leadgate: the widget could not start:",e);throw e;});
})();
`;
writeFileSync(file, wrapped);
