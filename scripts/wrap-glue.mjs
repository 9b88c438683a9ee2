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

// When the widget cannot start (no WebAssembly, the wasm not fetched, refused by a CSP without
// 'wasm-unsafe-eval', or crashed while starting), every mount element that is not ready gets
// data-leadgate-state="error" and a leadgate:error event (bubbling, composed; also pushed to
// dataLayer) whose detail names the reason: "unsupported", "network" (offline, CORS, the page's
// connect-src), "http" (an error status), "compile" (a CSP, a broken file) or "start". Nothing
// is attached to the element, so the marketer's fallback content inside it stays visible;
// elements added later get the same treatment.
//
// Before the wasm arrives, each mount element with an inline config gets a min-height: the
// widget's height for that config in the default theme (the sizes below are widget.css's:
// 16 px text, 24 px lines, 12 px spacing, 42 px inputs, 39 px selects, 114 px textareas; the
// characters per line are estimated from the element's width), so content below the form
// does not move when the form appears. When the widget is ready, the min-height goes if the
// form filled it (nothing moves) and stays if the form is shorter (nothing moves either); it
// goes on a leadgate:error. A page that reserves the space itself (a min-height in its CSS)
// is left alone: see README, "Reserved space".
const wrapped = `/*leadgate*/(function(){"use strict";
if(window.leadgate&&window.leadgate.loaded)return;
window.leadgate=Object.assign(window.leadgate||{},{loaded:true});
var s=document.currentScript;
if(!s||!s.src){var all=document.querySelectorAll('script[src*="leadgate.js"]');s=all[all.length-1];}
var wasm=new URL("leadgate_bg.wasm",s?s.src:location.href);
function reserve(){
var hosts=document.querySelectorAll("[data-leadgate]:not([data-leadgate-state])");
for(var i=0;i<hosts.length;i++){
var host=hosts[i],source=host.getAttribute("data-config")||"",config=null;
var own=getComputedStyle(host).minHeight;
if(source.charAt(0)!=="#"||(own&&own!=="auto"&&own!=="0px"))continue;
try{config=JSON.parse(document.getElementById(source.slice(1)).textContent);}catch(_){}
if(!config||!Array.isArray(config.fields))continue;
var width=Math.min(host.getBoundingClientRect().width,576)-24;
if(width<=0)continue;
var lines=function(text,px,w){return Math.max(1,Math.ceil(String(text||"").length*px/w));};
var h=24+44+36+(config.title?lines(config.title,11.5,width)*32.4+12:0);
for(var j=0;j<config.fields.length;j++){
var f=config.fields[j]||{},type=f.type||"text";
if(type==="hidden")continue;
if(type==="checkbox"||type==="consent"){h+=lines(f.label,8.5,width-28)*24+12;continue;}
h+=lines(f.label,8.5,width)*24+4+(type==="textarea"?114:type==="select"?39:42)+12;
if(f.help)h+=4+lines(f.help,7.65,width)*21.6;
}
keep(host,Math.ceil(h));
}}
function keep(host,h){
host.style.minHeight=h+"px";
function done(e){
host.removeEventListener("leadgate:ready",done);host.removeEventListener("leadgate:error",done);
var root=host.shadowRoot&&host.shadowRoot.querySelector(".lg-root");
if(e.type!=="leadgate:ready"||!root||root.getBoundingClientRect().height>=h)host.style.minHeight="";
}
host.addEventListener("leadgate:ready",done);host.addEventListener("leadgate:error",done);
}
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
reserve();
if(typeof WebAssembly!=="object"){fail("unsupported","this browser has no WebAssembly");return;}
${glue}
var stage="network";
var response=fetch(wasm).then(function(r){stage=r.ok?"compile":"http";if(!r.ok)throw new Error("HTTP "+r.status+" for "+wasm);return r;});
window.leadgate.ready=wasm_bindgen({module_or_path:response}).then(function(){return window.leadgate;},function(e){fail(e instanceof WebAssembly.RuntimeError?"start":stage,e);throw e;});
})();
`;
writeFileSync(file, wrapped);
