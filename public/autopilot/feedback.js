/* Autopilot feedback widget. One tag on any page:
 *   <script src="https://board.example/autopilot/feedback.js" defer
 *           data-user="ann@example.com" data-label="Feedback"
 *           data-position="bottom-right" data-color="#2563eb" data-page="path"></script>
 * or from code: AutopilotFeedback.setUser("ann"); AutopilotFeedback.open();
 * No dependencies. Lives in a Shadow DOM styled by a constructable stylesheet (fine under
 * a CSP without 'unsafe-inline'), and never throws into the host page. */
(function () {
  "use strict";
  try {
    if (window.AutopilotFeedback) return;
    var script = document.currentScript ||
      document.querySelector('script[src*="/autopilot/feedback.js"]');
    if (!script) return;
    var endpoint = new URL("/api/autopilot/feedback", script.src).href;
    var ds = script.dataset;
    var user = ds.user || "";
    // Query strings and fragments often carry tokens (reset links, OAuth), so by default only
    // the page's origin and path are sent; data-page="full" sends the whole URL, "none" nothing.
    var pageMode = ds.page === "full" || ds.page === "none" ? ds.page : "path";
    var pageUrl = function () {
      if (pageMode === "none") return null;
      return (pageMode === "full" ? location.href : location.origin + location.pathname).slice(0, 2000);
    };
    var pos = /^(top|bottom)-(left|right)$/.test(ds.position || "") ? ds.position.split("-") : ["bottom", "right"];
    var color = ds.color && window.CSS && CSS.supports("color", ds.color) ? ds.color : "#2563eb";

    var css =
      ":host{all:initial!important;display:block!important;visibility:visible!important;opacity:1!important;" +
      "position:fixed!important;" + pos[0] + ":16px!important;" + pos[1] + ":16px!important;" +
      "z-index:2147483647!important;--ap:" + color + ";font:15px/1.4 system-ui,sans-serif!important;color:#111!important}" +
      "*{box-sizing:border-box;font:inherit;margin:0}" +
      ".open{all:unset;box-sizing:border-box;cursor:pointer;padding:10px 16px;border-radius:999px;background:var(--ap);" +
      "color:#fff;font-weight:600;box-shadow:0 4px 14px #0003}" +
      ".open:focus-visible,button:focus-visible,textarea:focus-visible{outline:3px solid var(--ap);outline-offset:2px}" +
      "dialog{margin:auto;border:0;border-radius:12px;padding:20px;width:min(420px,calc(100vw - 32px));background:#fff;color:#111;" +
      "box-shadow:0 10px 40px #0005}" +
      "dialog::backdrop{background:#0006}" +
      "h2{font-size:18px;font-weight:700;margin-bottom:12px}" +
      "label{display:block;font-weight:600;margin-bottom:6px}" +
      "textarea{display:block;width:100%;min-height:120px;padding:8px;border:1px solid #888;border-radius:8px;" +
      "background:#fff;color:#111;resize:vertical}" +
      ".hp{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}" +
      ".row{display:flex;gap:8px;justify-content:flex-end;margin-top:12px}" +
      "button{cursor:pointer;padding:8px 14px;border-radius:8px;border:1px solid #888;background:#fff;color:#111}" +
      "button[type=submit]{background:var(--ap);border-color:var(--ap);color:#fff;font-weight:600}" +
      "button:disabled{opacity:.6;cursor:wait}" +
      "p{margin-top:10px;min-height:1.4em}.err{color:#b91c1c}.ok{color:#15803d}" +
      "@media (prefers-color-scheme:dark){dialog,textarea,button{background:#1f2937;color:#f9fafb}}";

    var host = document.createElement("autopilot-feedback");
    var root = host.attachShadow({ mode: "open" });
    if (root.adoptedStyleSheets !== undefined && typeof CSSStyleSheet === "function") {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      root.adoptedStyleSheets = [sheet];
    } else {
      var style = document.createElement("style");
      style.textContent = css;
      root.appendChild(style);
    }

    var el = function (tag, props, kids) {
      var node = document.createElement(tag);
      for (var k in props) {
        if (k === "text") node.textContent = props[k];
        else node.setAttribute(k, props[k]);
      }
      (kids || []).forEach(function (kid) { node.appendChild(kid); });
      return node;
    };

    var button = el("button", { type: "button", class: "open", "aria-haspopup": "dialog", text: ds.label || "Feedback" });
    var text = el("textarea", { id: "ap-msg", name: "message", required: "", maxlength: "5000" });
    var trap = el("input", { name: "website", tabindex: "-1", autocomplete: "off" });
    var status = el("p", { role: "status", "aria-live": "polite" });
    var send = el("button", { type: "submit", text: "Send" });
    var cancel = el("button", { type: "button", text: "Close" });
    var form = el("form", { novalidate: "" }, [
      el("h2", { id: "ap-title", text: "Send feedback" }),
      el("label", { for: "ap-msg", text: "What would you like to tell us?" }),
      text,
      el("div", { class: "hp", "aria-hidden": "true" }, [el("label", { text: "Website" }, [trap])]),
      status,
      el("div", { class: "row" }, [cancel, send])
    ]);
    var dialog = el("dialog", { "aria-labelledby": "ap-title" }, [form]);
    root.appendChild(button);
    root.appendChild(dialog);

    var say = function (message, kind) {
      status.className = kind;
      status.setAttribute("role", kind === "err" ? "alert" : "status");
      status.textContent = message;
    };
    var open = function () {
      if (dialog.open) return;
      say("", "");
      dialog.showModal();
      text.focus();
    };
    var close = function () { if (dialog.open) dialog.close(); };
    // Focus goes back to the button however the dialog closes (Escape included).
    dialog.addEventListener("close", function () { button.focus(); });
    button.addEventListener("click", open);
    cancel.addEventListener("click", close);

    var reason = function (res, body) {
      if (res.status === 429) {
        var wait = parseInt(res.headers.get("Retry-After") || "", 10);
        return "Too many messages right now. Please try again" + (wait > 0 ? " in " + wait + " seconds." : " shortly.");
      }
      var msg = body && body.error && body.error.message;
      return msg ? "Not sent: " + msg + "." : "Not sent: the board answered " + res.status + ". Please try again later.";
    };

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var message = text.value.trim();
      if (!message) {
        say("Please write a message first.", "err");
        text.focus();
        return;
      }
      if (navigator.onLine === false) {
        say("You seem to be offline. Your message is kept here; send it again when you are back online.", "err");
        return;
      }
      send.disabled = true;
      say("Sending…", "");
      fetch(endpoint, {
        method: "POST",
        mode: "cors",
        credentials: "omit",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ message: message, page: pageUrl(), user: user || null, website: trap.value })
      }).then(function (res) {
        return res.json().catch(function () { return null; }).then(function (body) {
          if (res.ok) {
            text.value = "";
            say("Thank you! Your feedback was sent.", "ok");
          } else {
            say(reason(res, body), "err");
          }
        });
      }).catch(function () {
        say("Could not reach the feedback service. Check your connection; your message is kept here.", "err");
      }).then(function () { send.disabled = false; });
    });

    var mount = function () { (document.body || document.documentElement).appendChild(host); };
    if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);

    window.AutopilotFeedback = {
      open: function () { try { open(); } catch (e) { /* never break the host page */ } },
      close: function () { try { close(); } catch (e) { /* never break the host page */ } },
      setUser: function (label) { user = label == null ? "" : String(label).slice(0, 200); }
    };
  } catch (err) {
    if (window.console) console.warn("Autopilot feedback widget could not start:", err);
  }
})();
