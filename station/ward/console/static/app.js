// The console's only script (CSP: script-src 'self'; htmx runs with allowEval=false).
"use strict";
(function () {
  function csrf() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    // plain HTTP on a LAN address has no clipboard API: the old way
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.appendChild(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    return ok ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  // Copy buttons, also on records pushed later by the live view (event delegation).
  document.addEventListener("click", function (ev) {
    const button = ev.target.closest(".copy, .copy-all");
    if (!button) return;
    copyText(button.dataset.copy).then(function () {
      button.classList.add("copied");
      button.textContent = "Đã chép";
      if (button.dataset.audit) {  // copy-all is written to the audit log
        fetch(button.dataset.audit, { method: "POST", headers: { "X-CSRF-Token": csrf() } });
      }
    }, function () {
      button.textContent = "Không chép được";
    });
  });

  // The live view: connection state, no record twice, back to the login page when the
  // session has ended.
  const live = document.getElementById("live");
  if (!live) return;
  const seen = { record: Number(live.dataset.lastSeq || 0), recent: Number(live.dataset.lastSeq || 0) };
  function status(text, on) {
    const el = document.getElementById("status");
    if (el) { el.textContent = text; el.classList.toggle("on", on); }
  }
  document.addEventListener("htmx:sseOpen", function () { status("Đã kết nối", true); });
  document.addEventListener("htmx:sseBeforeMessage", function (ev) {
    const seq = Number(ev.detail.lastEventId || 0);
    const kind = ev.detail.type;
    if (!(kind in seen)) return;
    if (seq && seq <= seen[kind]) { ev.preventDefault(); return; }
    if (seq) seen[kind] = seq;
  });
  document.addEventListener("htmx:sseClose", function (ev) {
    if (ev.detail.type === "message") window.location.assign("/login");  // "expired"
  });
  document.addEventListener("htmx:sseError", function (ev) {
    status("Mất kết nối, đang thử lại…", false);
    const source = ev.detail.source;
    if (source && source.readyState === EventSource.CLOSED) {
      // refused, not dropped: has the session ended?
      fetch(window.location.href, { redirect: "manual" }).then(function (r) {
        if (r.type === "opaqueredirect" || r.status === 401) window.location.assign("/login");
      }, function () {});
    }
  });
})();
