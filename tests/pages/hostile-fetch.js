// A page that wraps window.fetch, as analytics and error-tracking scripts do: it records every
// request and passes it on (through a then() of its own).
window.fetchCalls = [];
(function () {
  var original = window.fetch;
  window.fetch = function (input, init) {
    window.fetchCalls.push(String(input && input.url ? input.url : input));
    return original.call(window, input, init).then(function (response) { return response; });
  };
})();
