/* Trustable's consent banner, written from the company's policy.
 *
 * <script src="https://<trustable>/consent.js" data-write-key="PUBLIC_KEY" async></script>
 *
 * Trustable serves this file with the policy's words inside it (CONFIG below), so the
 * banner needs no second request to show. It keeps the visitor's choice in local
 * storage (no cookie), records it in Trustable for the visitor's anonymous id and
 * keeps the signed receipts it gets back. window.trustable:
 *   consent             a promise of the current choices ({purpose: true|false}),
 *                       settled once the visitor has chosen
 *   show()              open the banner again (so does any [data-trustable-show])
 *   on("change", fn)    fn(choices) after every choice; also the window event
 *                       "trustable:consent"
 *   segment(analytics)  analytics.js sends context.consent.categoryPreferences, and
 *                       nothing before a choice
 *   rudderstackOptions(options), rudderstack(rudderanalytics)
 *                       RudderStack's consent management (custom provider) gets the
 *                       allowed and denied consent ids, events wait for a choice
 * Code that needs it before the script has loaded (it is async) waits with
 *   (window.trustableReady = window.trustableReady || []).push(function (trustable) {…})
 * docs/consent.md, "The banner", says more.
 */
(function () {
  "use strict";
  var CONFIG = __TRUSTABLE_BANNER__;
  if (!CONFIG || (window.trustable && window.trustable.version)) return;
  var script = document.currentScript;
  var writeKey = script ? script.getAttribute("data-write-key") : null;
  var origin = script ? new URL(script.src, location.href).origin : location.origin;
  var STORE = "trustable.consent";
  var OWN_ID = "trustable.anonymous_id";
  var gpc = navigator.globalPrivacyControl === true;
  var language = pickLanguage();
  var words = CONFIG.languages[language];
  var T = words.texts;
  var listeners = [];
  var saved = read();
  var current = saved && saved.version === CONFIG.notice_version ? saved : null;
  var settle;
  var first = new Promise(function (resolve) { settle = resolve; });
  var recording = null;
  var segmentRef = null;
  var rudderRefs = [];
  var root = null;
  var returnFocus = null;
  var live = null;

  function pickLanguage() {
    var asked = script && script.getAttribute("data-language");
    var wanted = asked ? [asked] : (navigator.languages || [navigator.language || ""]);
    var have = Object.keys(CONFIG.languages);
    for (var i = 0; i < wanted.length; i++) {
      var tag = String(wanted[i]).toLowerCase();
      var tries = [tag, tag.split("-")[0]];
      for (var j = 0; j < tries.length; j++) {
        for (var k = 0; k < have.length; k++) {
          if (have[k].toLowerCase() === tries[j]) return have[k];
        }
      }
    }
    return CONFIG.language;
  }

  function read() {
    try {
      var value = JSON.parse(localStorage.getItem(STORE) || "null");
      return value && typeof value.choices === "object" ? value : null;
    } catch (e) {
      return null;
    }
  }

  function write(value) {
    try { localStorage.setItem(STORE, JSON.stringify(value)); } catch (e) { /* private mode */ }
  }

  function copy(choices) {
    var out = {};
    CONFIG.ask.forEach(function (p) { out[p] = choices[p] === true; });
    return out;
  }

  function anonymousId() {
    try {
      // AnalyticsBrowser (npm) holds the loaded instance; the snippet is the instance.
      var inst = segmentRef && (segmentRef.instance || segmentRef);
      var user = inst && typeof inst.user === "function" ? inst.user() : null;
      if (user && typeof user.anonymousId === "function" && user.anonymousId()) {
        return user.anonymousId();
      }
    } catch (e) { /* not loaded yet */ }
    for (var i = 0; i < rudderRefs.length; i++) {
      try {
        var r = rudderRefs[i].getAnonymousId();
        if (r) return r;
      } catch (e) { /* not loaded yet */ }
    }
    try {
      var ajs = localStorage.getItem("ajs_anonymous_id");
      if (ajs) return JSON.parse(ajs);
    } catch (e) { /* not JSON */ }
    var own = null;
    try { own = localStorage.getItem(OWN_ID); } catch (e) { /* private mode */ }
    if (!own) {
      own = crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random();
      try { localStorage.setItem(OWN_ID, own); } catch (e) { /* private mode */ }
    }
    return own;
  }

  // ---- what the SDKs are told ------------------------------------------------
  function allowedAll(purposes, choices) {
    return purposes.every(function (p) { return choices[p] === true; });
  }

  function categoryPreferences(choices) {
    var out = {};
    Object.keys(CONFIG.segment).forEach(function (name) {
      out[name] = allowedAll(CONFIG.segment[name], choices);
    });
    return out;
  }

  function consentIds(choices) {
    var allowed = [], denied = [];
    Object.keys(CONFIG.rudderstack).forEach(function (id) {
      (allowedAll(CONFIG.rudderstack[id], choices) ? allowed : denied).push(id);
    });
    return { allowedConsentIds: allowed, deniedConsentIds: denied };
  }

  function tellRudderStack(choices) {
    rudderRefs.forEach(function (ra) {
      var managed = Object.assign({ enabled: true, provider: "custom" }, consentIds(choices));
      try { ra.consent({ consentManagement: managed }); } catch (e) { /* an SDK without it */ }
    });
  }

  // ---- recording a choice ----------------------------------------------------
  // The SDKs hear of a choice once Trustable has recorded it (or failed to): events
  // that waited for it then never arrive before the choice they depend on.
  function choose(choices) {
    var chosen = copy(choices);
    current = { version: CONFIG.notice_version, choices: chosen, gpc: gpc, at: new Date().toISOString(),
                receipts: (saved && saved.receipts) || [], pending: true };
    saved = current;
    write(current);
    close();
    recording = send(current).then(function () {
      recording = null;
      settle(copy(chosen));
      tellRudderStack(chosen);
      listeners.forEach(function (fn) { try { fn(copy(chosen)); } catch (e) { /* theirs */ } });
      window.dispatchEvent(new CustomEvent("trustable:consent", { detail: { choices: copy(chosen) } }));
      return copy(chosen);
    });
  }

  function send(record) {
    if (!writeKey) return Promise.resolve();
    var body = { anonymous_id: anonymousId(), choices: record.choices, gpc: record.gpc };
    return fetch(origin + "/v1/consent/choices", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Authorization": "Basic " + btoa(writeKey + ":") },
      body: JSON.stringify(body),
    }).then(function (response) {
      // Refused for good (a signed-in visitor's id: their account's choices are made
      // in the privacy portal): kept here for the SDKs, never sent again.
      if (response.status === 400 || response.status === 403) record.pending = false;
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.json();
    }).then(function (answer) {
      record.pending = false;
      record.receipts = answer.changes.map(function (c) { return c.receipt; });
      write(record);
      announce(T.saved);
    }).catch(function () {
      write(record);
      announce(T.failed); // unless refused, sent again on the next page
    });
  }

  // ---- the banner ------------------------------------------------------------
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // A status region in the page before anything is said in it: screen readers
  // announce changes to a region they already know.
  function liveRegion() {
    if (!live && document.body) {
      live = el("p", { role: "status", "class": "tb-sr" });
      document.body.appendChild(live);
    }
    return live;
  }

  function announce(text) {
    var region = liveRegion();
    if (region) region.textContent = text;
  }

  function style() {
    if (document.getElementById("tb-style")) return;
    var css = [
      "#tb-banner{position:fixed;z-index:2147483000;left:0;right:0;bottom:0;margin:0 auto;box-sizing:border-box;",
      "width:100%;max-width:42rem;max-height:90vh;overflow:auto;padding:1rem 1.25rem;background:#fff;color:#1a1a1a;",
      "border:2px solid #1a1a1a;border-bottom:0;border-radius:.5rem .5rem 0 0;font:16px/1.45 system-ui,sans-serif;",
      "box-shadow:0 -.25rem 1rem rgba(0,0,0,.2)}",
      "#tb-banner h2{font-size:1.2rem;margin:0 0 .5rem}#tb-banner h3{font-size:1rem;margin:1rem 0 .25rem}",
      "#tb-banner p{margin:.25rem 0}#tb-banner ul{list-style:none;margin:0;padding:0}",
      "#tb-banner li{border-top:1px solid #ccc;padding:.5rem 0}",
      "#tb-banner .tb-buttons{display:flex;flex-wrap:wrap;gap:.5rem;margin-top:.75rem}",
      "#tb-banner .tb-buttons button{flex:1 1 8rem;min-height:2.75rem;padding:.5rem .75rem;font:inherit;",
      "font-weight:600;color:#fff;background:#1f4e8c;border:2px solid #1f4e8c;border-radius:.375rem;cursor:pointer}",
      "#tb-banner button:focus-visible,#tb-banner input:focus-visible,#tb-banner a:focus-visible{outline:3px solid #b35c00;outline-offset:2px}",
      "#tb-banner label{display:flex;justify-content:space-between;gap:1rem;font-weight:600;cursor:pointer}",
      "#tb-banner input[type=checkbox]{width:1.5rem;height:1.5rem;flex:none}",
      "#tb-banner .tb-note{font-size:.9rem;color:#5c3300}#tb-banner .tb-small{font-size:.9rem;color:#333}",
      "#tb-banner a{color:#1f4e8c}",
      ".tb-sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}",
      "@media (prefers-reduced-motion:no-preference){#tb-banner{animation:tb-in .2s ease-out}}",
      "@keyframes tb-in{from{transform:translateY(1rem);opacity:0}to{transform:none;opacity:1}}",
    ].join("");
    var node = el("style", { id: "tb-style" });
    node.textContent = css;
    document.head.appendChild(node);
  }

  function wordsOf(purpose) {
    return words.purposes[purpose];
  }

  function gpcCovers(purpose) {
    return gpc && CONFIG.gpc.indexOf(purpose) >= 0;
  }

  function receiptsList(box) {
    box.appendChild(el("h3", {}, T.receipts_heading));
    var receipts = (saved && saved.receipts) || [];
    if (!receipts.length) {
      box.appendChild(el("p", { "class": "tb-small" }, T.receipts_none));
      return;
    }
    var list = el("ul", { "class": "tb-receipts" });
    receipts.forEach(function (signed) {
      var r = signed.receipt || {};
      var purpose = ((r.services || [{}])[0].purposes || [{}])[0];
      var key = (purpose.purposeCategory || [])[0];
      var status = purpose["dpv:hasConsentStatus"] === "dpv:ConsentGiven" ? T.allowed : T.refused;
      var when = new Date((r.consentTimestamp || 0) * 1000);
      var name = key && words.purposes[key] ? words.purposes[key].name : key;
      list.appendChild(el("li", { "class": "tb-small" },
        name + ": " + status + " · " + when.toLocaleString(language) + " · " + r.consentReceiptID));
    });
    box.appendChild(list);
    var blob = new Blob([JSON.stringify(receipts, null, 2)], { type: "application/json" });
    box.appendChild(el("a", { href: URL.createObjectURL(blob), download: "consent-receipts.json" }, T.receipt_download));
  }

  function build(detailed) {
    style();
    var box = el("div", { id: "tb-banner", role: "dialog", "aria-modal": "false", "aria-labelledby": "tb-title",
                          "aria-describedby": "tb-intro", lang: language, tabindex: "-1" });
    box.appendChild(el("h2", { id: "tb-title" }, T.title));
    box.appendChild(el("p", { id: "tb-intro" }, T.intro));
    // Under a new notice nothing is on again until the visitor says so.
    var chosen = current ? current.choices : {};
    CONFIG.ask.forEach(function (purpose) {
      if (gpcCovers(purpose) && !detailed) {
        box.appendChild(el("p", { "class": "tb-note" }, wordsOf(purpose).name + ": " + T.gpc_note));
      }
    });
    var switches = {};
    if (detailed) {
      box.appendChild(el("h3", {}, T.ask_heading));
      var list = el("ul");
      CONFIG.ask.forEach(function (purpose, i) {
        var w = wordsOf(purpose);
        var item = el("li");
        var label = el("label", { "for": "tb-s" + i });
        label.appendChild(el("span", {}, w.name));
        var input = el("input", { type: "checkbox", role: "switch", id: "tb-s" + i, "aria-describedby": "tb-d" + i });
        input.checked = chosen[purpose] === true && !(gpcCovers(purpose) && !current);
        switches[purpose] = input;
        label.appendChild(input);
        item.appendChild(label);
        var about = el("div", { id: "tb-d" + i });
        about.appendChild(el("p", { "class": "tb-small" }, w.description));
        about.appendChild(el("p", { "class": "tb-small" }, T.you_get + " " + w.benefit));
        if (gpcCovers(purpose)) about.appendChild(el("p", { "class": "tb-note" }, T.gpc_note));
        item.appendChild(about);
        list.appendChild(item);
      });
      box.appendChild(list);
      box.appendChild(el("h3", {}, T.always_on_heading));
      var always = el("ul");
      CONFIG.always_on.forEach(function (entry) {
        var w = wordsOf(entry.purpose);
        var item = el("li");
        item.appendChild(el("p", {}, w.name + " · " + T.always_on));
        item.appendChild(el("p", { "class": "tb-small" }, T["why_" + entry.basis] + " " + w.description));
        always.appendChild(item);
      });
      box.appendChild(always);
      receiptsList(box);
    }
    var buttons = el("div", { "class": "tb-buttons" });
    var accept = el("button", { type: "button", "data-choice": "accept" }, T.accept_all);
    var reject = el("button", { type: "button", "data-choice": "reject" }, T.reject_all);
    var third = el("button", { type: "button", "data-choice": detailed ? "save" : "choose" }, detailed ? T.save : T.choose);
    accept.addEventListener("click", function () {
      var all = {};
      CONFIG.ask.forEach(function (p) { all[p] = !gpcCovers(p); });
      choose(all);
    });
    reject.addEventListener("click", function () { choose({}); });
    third.addEventListener("click", function () {
      if (!detailed) return open(true);
      var picked = {};
      CONFIG.ask.forEach(function (p) { picked[p] = switches[p].checked; });
      choose(picked);
    });
    [accept, reject, third].forEach(function (b) { buttons.appendChild(b); });
    box.appendChild(buttons);
    return box;
  }

  function open(detailed) {
    if (!document.body) {
      document.addEventListener("DOMContentLoaded", function () { open(detailed); });
      return;
    }
    if (!root) returnFocus = document.activeElement;
    liveRegion();
    var box = build(detailed);
    if (root) root.replaceWith(box); else document.body.appendChild(box);
    root = box;
    box.focus();
    if (window.performance && performance.mark) performance.mark("trustable:banner-shown");
  }

  function close() {
    if (!root) return;
    root.remove();
    root = null;
    var back = returnFocus && document.contains(returnFocus) ? returnFocus : document.body;
    if (back && back.focus) back.focus();
    returnFocus = null;
  }

  document.addEventListener("click", function (event) {
    var target = event.target && event.target.closest && event.target.closest("[data-trustable-show]");
    if (target) {
      event.preventDefault();
      open(true);
    }
  });

  window.trustable = {
    version: CONFIG.notice_version,
    get consent() {
      if (recording) return recording;
      return current ? Promise.resolve(copy(current.choices)) : first;
    },
    show: function () { open(true); },
    on: function (name, fn) { if (name === "change") listeners.push(fn); },
    segment: function (analytics) {
      segmentRef = analytics;
      // analytics.js awaits what a source middleware returns: events wait for a choice.
      analytics.addSourceMiddleware(function (ctx) {
        return window.trustable.consent.then(function (choices) {
          var event = ctx.payload.obj;
          event.context = event.context || {};
          var consent = event.context.consent || {};
          consent.categoryPreferences = categoryPreferences(choices);
          event.context.consent = consent;
          ctx.next(ctx.payload);
        });
      });
      return analytics;
    },
    rudderstackOptions: function (options) {
      var out = Object.assign({}, options || {});
      out.consentManagement = Object.assign({ enabled: true, provider: "custom" },
        current ? consentIds(current.choices) : {});
      if (!current) {
        // Events wait in the page until the visitor chooses. Only the anonymous id is
        // kept meanwhile: without it every waiting event would get an id of its own,
        // and the choice would be recorded for none of them.
        out.preConsent = { enabled: true, storage: { strategy: "anonymousId" }, events: { delivery: "buffer" } };
      }
      return out;
    },
    rudderstack: function (rudderanalytics) {
      rudderRefs.push(rudderanalytics);
      return rudderanalytics;
    },
  };

  // Code that waited for the banner: window.trustableReady = [function (trustable) {…}].
  var waiting = window.trustableReady || [];
  window.trustableReady = { push: function (fn) { fn(window.trustable); } };
  waiting.forEach(function (fn) { fn(window.trustable); });
  window.dispatchEvent(new CustomEvent("trustable:ready"));

  if (current && current.pending) send(current);
  if (!current) open(false);
})();
