// zone.js-like: the page replaces window.Promise with a subclass that sees every then().
(function () {
  var Native = window.Promise;
  window.promiseThens = 0;
  class PagePromise extends Native {
    then(onFulfilled, onRejected) {
      window.promiseThens += 1;
      return super.then(onFulfilled, onRejected);
    }
  }
  window.Promise = PagePromise;
})();
