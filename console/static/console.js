// seqflow console: everything works without this file; it adds live refresh, the eligible
// counts in the bulk bars, and why a bulk button is off. No dependencies.
(function () {
  "use strict";
  const LIVE_EVERY_MS = 2000;

  function checkedValues(root) {
    return new Set([...root.querySelectorAll("input[type=checkbox][name=ids]:checked")].map((b) => b.value));
  }

  // Live: re-read this page every 2 s while the tab is visible and no menu is open, and swap
  // the [data-live] region, keeping what is selected.
  async function refresh() {
    const live = document.querySelector("[data-live]");
    if (!live || document.visibilityState !== "visible" || document.querySelector("details[open]")) return;
    try {
      const response = await fetch(location.href, { headers: { "X-Seqflow-Live": "1" }, credentials: "same-origin" });
      if (!response.ok || response.redirected) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html").querySelector("[data-live]");
      if (!fresh) return;
      const kept = checkedValues(live);
      live.innerHTML = fresh.innerHTML;
      live.querySelectorAll("input[type=checkbox][name=ids]").forEach((box) => { box.checked = kept.has(box.value); });
      updateBars();
    } catch (_) { /* offline for a moment: the next tick tries again */ }
  }

  // Sequences: "Pause (n)" / "Resume (n)" count the selected sequences each applies to.
  // Recipients: Pause Selected and Resume Selected are on only when every selected row allows
  // them (the server renders that from domain.actions); otherwise the button says why.
  function updateBars() {
    const seq = document.getElementById("bulk-sequences");
    if (seq) {
      const boxes = [...seq.querySelectorAll("input[name=ids]:checked")];
      const pause = boxes.filter((b) => b.dataset.canPause === "true").length;
      const resume = boxes.filter((b) => b.dataset.canResume === "true").length;
      seq.querySelector("[data-count=pause]").textContent = pause;
      seq.querySelector("[data-count=resume]").textContent = resume;
    }
    const rec = document.getElementById("bulk-recipients");
    if (rec) {
      // "Select all N matching" means rows this page does not show: the server checks them.
      // Each row says what the bulk rule (domain.actions, on the server) allows it.
      const every = rec.querySelector("input[name=all_matching]:checked");
      const boxes = every ? [] : [...rec.querySelectorAll("input[name=ids]:checked")];
      const rule = (button, ok, why) => {
        if (!button) return;
        button.disabled = boxes.length > 0 && !ok;
        button.title = button.disabled ? why : "";
      };
      rule(rec.querySelector("button[value=pause]"), boxes.every((b) => b.dataset.canPause === "true"),
        "Pause Selected needs every selected recipient In Progress or Error");
      rule(rec.querySelector("button[value=resume]"), boxes.every((b) => b.dataset.canResume === "true"),
        "Resume Selected needs every selected recipient Paused");
    }
  }

  // Dialogs: a link to a confirmation page opens that page's form in a real <dialog> (focus
  // moves in, Escape closes, focus returns to the link). Without this script it is a page.
  async function openDialog(link) {
    const response = await fetch(link.href, { credentials: "same-origin" });
    const region = new DOMParser().parseFromString(await response.text(), "text/html").querySelector(".confirm");
    if (!response.ok || !region) { location.href = link.href; return; }
    const dialog = document.createElement("dialog");
    dialog.setAttribute("aria-labelledby", "confirm-title");
    dialog.innerHTML = region.innerHTML;
    dialog.querySelectorAll("a").forEach((a) => {
      if (a.textContent.trim() === "Cancel") a.addEventListener("click", (e) => { e.preventDefault(); dialog.close(); });
    });
    dialog.addEventListener("close", () => { dialog.remove(); link.focus(); });
    document.body.appendChild(dialog);
    link.closest("details")?.removeAttribute("open");
    dialog.showModal();
    dialog.querySelector("input:not([type=hidden]), textarea, button")?.focus();
  }

  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-confirm]");
    if (!link || event.metaKey || event.ctrlKey || event.shiftKey) return;
    event.preventDefault();
    openDialog(link);
  });

  document.addEventListener("change", (event) => {
    const box = event.target;
    if (box.matches("[data-select-page]")) {
      box.closest("form").querySelectorAll("input[name=ids]").forEach((b) => { b.checked = box.checked; });
    }
    if (box.matches("input[name=all_matching]") && box.checked) {
      box.closest("form").querySelectorAll("input[name=ids], [data-select-page]").forEach((b) => { b.checked = true; });
    }
    if (box.matches("input[name=ids], [data-select-page], input[name=all_matching]")) updateBars();
  });
  document.addEventListener("DOMContentLoaded", () => {
    updateBars();
    setInterval(refresh, LIVE_EVERY_MS);
  });
})();
