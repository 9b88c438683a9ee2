// The baseline: a hand-written form script, ready as soon as it ran.
document.getElementById('vanilla').addEventListener('submit', function (e) {
  e.preventDefault();
  fetch('/v1/leads', { method: 'POST', body: JSON.stringify(Object.fromEntries(new FormData(e.target))) });
});
window.__formReady = performance.now();
