// Keeps the 72-hour countdowns counting; the server already wrote each one, so the
// page says the same thing without script.
(function () {
  "use strict";
  var clocks = document.querySelectorAll(".countdown[data-deadline]");
  if (!clocks.length) return;
  function words(ms) {
    var late = ms < 0;
    var s = Math.floor(Math.abs(ms) / 1000);
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    return late ? "overdue by " + h + " h " + m + " min" : h + " h " + m + " min left";
  }
  function tick() {
    var now = Date.now();
    clocks.forEach(function (el) {
      var left = Date.parse(el.getAttribute("data-deadline")) - now;
      if (isNaN(left)) return;
      el.textContent = words(left);
      if (left < 0) el.classList.add("error");
    });
  }
  tick();
  setInterval(tick, 30000);
})();
