// A single-page app: mounts and unmounts the widget 100 times through the JS API.
window.results = {};
function heap() {
  if (window.gc) { window.gc(); }
  return performance.memory ? performance.memory.usedJSHeapSize : null;
}
async function run(lg) {
  var host = document.getElementById('spa');
  var config = JSON.parse(document.getElementById('contact').textContent);
  try {
    lg.mount(host, { form_id: 'x', endpoint: '/v1/leads', fields: [{ name: 'a', type: 'emial', label: 'A' }] });
    results.bad = 'no error';
  } catch (e) {
    results.bad = e.message;
  }
  var first = lg.mount(host, config);
  first.unmount();
  await new Promise(function (r) { setTimeout(r, 50); });
  results.heapBefore = heap();
  for (var i = 0; i < 100; i++) {
    var handle = lg.mount(host, config);
    if (!host.shadowRoot.querySelector('form')) { results.missing = i; }
    handle.unmount();
  }
  await new Promise(function (r) { setTimeout(r, 200); });
  results.heapAfter = heap();
  results.childrenAfterUnmount = host.shadowRoot.querySelectorAll('*').length;
  results.stateAfterUnmount = host.getAttribute('data-leadgate-state');
  // The handle is dropped: the widget must stay until unmount(), whatever the garbage
  // collector does with the handle.
  lg.mount(host, config);
  results.remounted = !!host.shadowRoot.querySelector('form');
  for (var round = 0; round < 3; round++) {
    heap();
    await new Promise(function (r) { setTimeout(r, 100); });
  }
  results.keptAfterGc = !!host.shadowRoot.querySelector('form');
  try { lg.mount(host, config); results.twice = 'no error'; } catch (e) { results.twice = e.message; }
  results.done = true;
}
(function wait() {
  if (window.leadgate && window.leadgate.ready) { window.leadgate.ready.then(run); }
  else { setTimeout(wait, 20); }
})();
