// What Prototype.js 1.6 and its kin do to a page's built-ins: arrays serialize themselves as
// strings (so JSON.stringify([1]) is "\"[1]\""), Object.prototype carries enumerable extras,
// and String.prototype.trim is replaced by one that does not trim.
Array.prototype.toJSON = function () {
  return "[" + Array.prototype.map.call(this, function (v) { return JSON.stringify(v); }).join(", ") + "]";
};
Object.prototype.extend = function (source) { for (var k in source) { this[k] = source[k]; } return this; };
Object.prototype.polluted = "yes";
String.prototype.trim = function () { return String(this) + " "; };
// A single-page app on that page also mounts a widget through the JS API.
window.spa = {};
(function wait() {
  if (!window.leadgate || !window.leadgate.ready) { return setTimeout(wait, 20); }
  window.leadgate.ready.then(function (lg) {
    var config = JSON.parse(document.getElementById('contact').textContent);
    try {
      lg.mount(document.getElementById('spa'), config);
      window.spa.result = 'mounted';
    } catch (e) {
      window.spa.result = 'error: ' + e.message;
    }
  });
})();
