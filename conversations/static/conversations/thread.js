// The window's countdown where the agent types, and the thread scrolled to its newest
// line. No framework: the page works without this file.
(function () {
  function span(seconds) {
    var minutes = Math.floor(seconds / 60), days = Math.floor(minutes / 1440);
    if (days) return days + (days === 1 ? " day" : " days");
    var hours = Math.floor(minutes / 60);
    if (hours) return hours + " h " + (minutes % 60) + " min";
    return minutes ? minutes + " min" : "under 1 min";
  }
  function tick() {
    document.querySelectorAll("[data-expires]").forEach(function (element) {
      // data-expires: seconds since the epoch (no date-string parsing quirks).
      var left = Math.floor(Number(element.dataset.expires) - Date.now() / 1000);
      var countdown = element.querySelector(".sb-countdown");
      if (left <= 0) {
        element.textContent = "The window has just closed: reload the page to send a template.";
        element.classList.add("sb-expiring");
      } else if (countdown) {
        countdown.textContent = span(left);
        element.classList.toggle("sb-expiring", left < 3600);
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var thread = document.getElementById("thread");
    // As chat apps do, on every page: its newest line is where the reader was (an
    // older page ends just before the page they came from); older lines are above.
    if (thread) thread.scrollTop = thread.scrollHeight;
    tick();
    setInterval(tick, 15000);
  });
})();
