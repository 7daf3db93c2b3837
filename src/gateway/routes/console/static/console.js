// The console's one script (no framework): copy buttons, times in the viewer's own zone,
// and a confirmation before destructive forms. Every page works without it.
(function () {
  "use strict";
  var format = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  document.querySelectorAll("time[datetime]").forEach(function (node) {
    var moment = new Date(node.getAttribute("datetime"));
    if (!isNaN(moment)) {
      node.title = node.textContent;
      node.textContent = format.format(moment);
    }
  });
  document.querySelectorAll("[data-time-zone]").forEach(function (node) { node.textContent = zone; });
  document.querySelectorAll("input[data-zone-field]").forEach(function (node) { node.value = zone; });
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var source = document.getElementById(button.getAttribute("data-copy"));
      if (!source || !navigator.clipboard) { return; }
      navigator.clipboard.writeText(source.textContent.trim()).then(function () {
        button.textContent = "Copied";
      }, function () {
        button.textContent = "Select and copy";
      });
    });
  });
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
})();
