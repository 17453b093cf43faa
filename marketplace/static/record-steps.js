// The provenance record's steps without a round trip: a step button shows its step in the
// page (every step's inputs are already there, so the final post carries the whole record).
// Without this script the same buttons save the draft and the server opens the step.
(function () {
  "use strict";
  var form = document.querySelector("form[data-steps]");
  if (!form) { return; }
  var steps = Array.prototype.slice.call(form.querySelectorAll("section.step"));
  var current = form.querySelector("input[name=step]");

  function show(name) {
    steps.forEach(function (step) { step.hidden = step.getAttribute("data-step") !== name; });
    form.querySelectorAll(".step-list li").forEach(function (item) {
      var button = item.querySelector("[data-go]");
      if (button && button.getAttribute("data-go") === name) {
        item.setAttribute("aria-current", "step");
      } else {
        item.removeAttribute("aria-current");
      }
    });
    current.value = name;
    var url = new URL(window.location.href);
    url.searchParams.set("step", name);
    window.history.replaceState(null, "", url.toString());
    var heading = document.getElementById("step-" + name + "-heading");
    if (heading) {
      heading.focus({ preventScroll: true });
      form.scrollIntoView({ block: "start" });
    }
  }

  form.addEventListener("click", function (event) {
    var button = event.target.closest("[data-go]");
    if (!button || !form.contains(button)) { return; }
    event.preventDefault();
    show(button.getAttribute("data-go"));
  });
}());
