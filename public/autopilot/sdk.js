/* Autopilot launcher for the team's own app. With
 *   <script src="https://board.example/autopilot/sdk.js" defer></script>
 * a person signed in to the board sees a toast whenever one of their issues (filed by them or
 * assigned to them) changes status, with a link to it on the board. It uses the board session,
 * so the page must be on the board's origin (or behind the same reverse proxy). Call
 * AutopilotSDK.stop() to end it. Never throws into the host page. */
(function () {
  "use strict";
  try {
    if (window.AutopilotSDK) return;
    var script = document.currentScript ||
      document.querySelector('script[src*="/autopilot/sdk.js"]');
    if (!script) return;
    var board = new URL("/", script.src);
    var api = function (path) { return new URL(path, board).href; };
    var get = function (path) {
      return fetch(api(path), { credentials: "include", headers: { Accept: "application/json" } })
        .then(function (res) { if (!res.ok) throw new Error(res.status); return res.json(); });
    };
    var LABELS = { backlog: "Backlog", ready: "Ready", in_progress: "In progress", blocked: "Blocked", in_review: "In review", done: "Done" };

    var host = document.createElement("autopilot-toasts");
    var root = host.attachShadow({ mode: "open" });
    var css =
      ":host{all:initial!important;display:block!important;visibility:visible!important;position:fixed!important;" +
      "top:16px!important;right:16px!important;z-index:2147483647!important;font:14px/1.4 system-ui,sans-serif!important}" +
      "ol{list-style:none;margin:0;padding:0;display:grid;gap:8px;width:min(340px,calc(100vw - 32px))}" +
      "li{background:#111827;color:#f9fafb;border-radius:10px;padding:10px 36px 10px 12px;position:relative;" +
      "box-shadow:0 6px 20px #0004}" +
      "a{color:#93c5fd}button{all:unset;cursor:pointer;position:absolute;top:6px;right:10px;font-size:18px}" +
      "button:focus-visible,a:focus-visible{outline:2px solid #93c5fd}";
    if (root.adoptedStyleSheets !== undefined && typeof CSSStyleSheet === "function") {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      root.adoptedStyleSheets = [sheet];
    }
    var list = document.createElement("ol");
    list.setAttribute("role", "status");
    list.setAttribute("aria-live", "polite");
    root.appendChild(list);

    var toast = function (issue, from, to) {
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.href = api("/?issue=" + issue.id);
      link.textContent = "#" + issue.id + " " + issue.title;
      var close = document.createElement("button");
      close.type = "button";
      close.setAttribute("aria-label", "Dismiss");
      close.textContent = "×";
      close.addEventListener("click", function () { item.remove(); });
      item.appendChild(link);
      item.appendChild(document.createTextNode(" moved from " + (LABELS[from] || from) + " to " + (LABELS[to] || to)));
      item.appendChild(close);
      list.appendChild(item);
      while (list.children.length > 4) list.firstChild.remove();
      setTimeout(function () { item.remove(); }, 10000);
    };

    var source = null;
    var start = function (me) {
      var mount = function () { (document.body || document.documentElement).appendChild(host); };
      if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
      source = new EventSource(api("/api/autopilot/stream"), { withCredentials: true });
      source.addEventListener("change", function (message) {
        try {
          var event = JSON.parse(message.data);
          if (event.kind !== "moved" || !event.issue_id || event.from_status === event.to_status) return;
          if (event.actor === me.name) return; // your own moves need no toast
          get("/api/autopilot/issues/" + event.issue_id).then(function (issue) {
            if (issue.created_by === me.name || issue.assignee === me.name) toast(issue, event.from_status, event.to_status);
          }).catch(function () {});
        } catch (e) { /* a malformed event is skipped */ }
      });
    };

    window.AutopilotSDK = {
      stop: function () { if (source) source.close(); source = null; host.remove(); }
    };
    // Not signed in to the board: stay quiet.
    get("/api/autopilot/me").then(start).catch(function () {});
  } catch (err) {
    if (window.console) console.warn("Autopilot SDK could not start:", err);
  }
})();
