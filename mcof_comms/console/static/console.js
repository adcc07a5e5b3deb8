/* mcof-comms console behaviour: segment counters, language tabs, audience count, canned
   responses and broadcast progress. No inline script anywhere (CSP). */
(function () {
  "use strict";
  var GSM7 = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var GSM7_EXT = "\f^{}\\[~]|€";

  function countSegments(text) {
    var gsm = true, units = 0;
    for (var ch of text) {
      if (GSM7.indexOf(ch) >= 0) { units += 1; }
      else if (GSM7_EXT.indexOf(ch) >= 0) { units += 2; }
      else { gsm = false; break; }
    }
    if (!gsm) {
      units = 0;
      for (var c of text) { units += c.codePointAt(0) > 0xffff ? 2 : 1; }
    }
    var single = gsm ? 160 : 70, part = gsm ? 153 : 67;
    var segments = units === 0 ? 0 : units <= single ? 1 : Math.ceil(units / part);
    return { encoding: gsm ? "GSM-7" : "UCS-2", units: units, segments: segments };
  }
  window.mcofCountSegments = countSegments;

  function wireSegments() {
    document.querySelectorAll("textarea[data-segments]").forEach(function (area) {
      var out = document.getElementById(area.dataset.segments);
      if (!out) { return; }
      function update() {
        var s = countSegments(area.value);
        out.textContent = s.units + " · " + s.encoding + " · " + s.segments + " SMS";
        out.dataset.segments = String(s.segments);
      }
      area.addEventListener("input", update);
      update();
    });
  }

  function wireTabs() {
    document.querySelectorAll("[role=tablist]").forEach(function (list) {
      var tabs = Array.prototype.slice.call(list.querySelectorAll("[role=tab]"));
      function select(tab) {
        tabs.forEach(function (t) {
          var on = t === tab;
          t.setAttribute("aria-selected", on ? "true" : "false");
          t.tabIndex = on ? 0 : -1;
          document.getElementById(t.getAttribute("aria-controls")).hidden = !on;
        });
        tab.focus();
      }
      tabs.forEach(function (tab, i) {
        tab.addEventListener("click", function () { select(tab); });
        tab.addEventListener("keydown", function (e) {
          var rtl = document.documentElement.dir === "rtl";
          var next = (e.key === "ArrowRight") !== rtl ? 1 : -1;
          if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
            select(tabs[(i + next + tabs.length) % tabs.length]);
            e.preventDefault();
          }
        });
      });
    });
  }

  function wireAudience() {
    var box = document.getElementById("audience");
    var out = document.getElementById("recipient-count");
    var form = document.getElementById("broadcast-form");
    if (!box || !out || !form) { return; }
    var timer = null;
    function refresh() {
      var params = new URLSearchParams();
      new FormData(form).forEach(function (value, key) {
        if (["operation_id", "languages", "channels", "last_seen_days", "contact_ids", "areas"].indexOf(key) >= 0) {
          params.append(key, value);
        }
      });
      fetch(box.dataset.countUrl + "?" + params.toString(), { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (data) { out.textContent = String(data.count); })
        .catch(function () { out.textContent = "?"; });
    }
    form.addEventListener("change", function () { clearTimeout(timer); timer = setTimeout(refresh, 200); });
    refresh();
  }

  function wireCanned() {
    var select = document.getElementById("canned");
    if (!select) { return; }
    select.addEventListener("change", function () {
      var target = document.getElementById(select.dataset.target);
      if (target && select.value) {
        target.value = select.value;
        target.dispatchEvent(new Event("input"));
        target.focus();
      }
    });
  }

  function wireProgress() {
    var section = document.getElementById("progress-section");
    if (!section) { return; }
    var bar = document.getElementById("broadcast-progress");
    var status = document.getElementById("broadcast-status");
    function poll() {
      fetch(section.dataset.url, { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (p) {
          bar.max = Math.max(p.total, 1);
          bar.value = p.done;
          bar.textContent = String(p.done);
          bar.dataset.done = String(p.done);
          bar.dataset.total = String(p.total);
          if (status) { status.textContent = p.status; }
          section.querySelectorAll("[data-k]").forEach(function (el) {
            el.textContent = String(p[el.dataset.k]);
          });
          var finished = ["canceled", "failed"].indexOf(p.status) >= 0 ||
            (p.total > 0 && p.done + 0 >= p.total && p.queued === 0);
          if (!finished) { setTimeout(poll, 1000); }
        })
        .catch(function () { setTimeout(poll, 3000); });
    }
    poll();
  }

  // life-threatening alerts: every console page asks every 20 s, so an open page shows a new
  // alert within the minute without a reload
  function wireLifeAlerts() {
    var section = document.getElementById("life-alerts");
    var list = document.getElementById("life-alert-list");
    if (!section || !list) { return; }
    function render(alerts) {
      var shown = {};
      list.querySelectorAll("li[data-case]").forEach(function (li) { shown[li.dataset.case] = li; });
      alerts.forEach(function (a) {
        if (shown[String(a.case_id)]) { delete shown[String(a.case_id)]; return; }
        var li = document.createElement("li");
        li.dataset.case = String(a.case_id);
        var link = document.createElement("a");
        link.href = a.url;
        link.textContent = a.reference;
        li.appendChild(link);
        var form = document.createElement("form");
        form.method = "post";
        form.className = "inline";
        form.action = section.dataset.ackUrl.replace("/0/", "/" + a.case_id + "/");
        [["csrf_token", section.dataset.csrf], ["next", window.location.pathname]].forEach(function (kv) {
          var input = document.createElement("input");
          input.type = "hidden"; input.name = kv[0]; input.value = kv[1];
          form.appendChild(input);
        });
        var button = document.createElement("button");
        button.type = "submit";
        button.textContent = section.dataset.ackLabel;
        form.appendChild(button);
        li.appendChild(document.createTextNode(" "));
        li.appendChild(form);
        list.appendChild(li);
      });
      Object.keys(shown).forEach(function (k) { shown[k].remove(); });
      section.hidden = alerts.length === 0;
    }
    function poll() {
      fetch(section.dataset.poll, { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (data) { render(data.alerts || []); setTimeout(poll, 20000); })
        .catch(function () { setTimeout(poll, 20000); });
    }
    setTimeout(poll, 20000);
  }

  function foldFiltersOnPhones() {
    var box = document.getElementById("filter-box");
    if (box && window.matchMedia("(max-width: 800px)").matches && !window.location.search) {
      box.open = false;
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    foldFiltersOnPhones();
    wireSegments(); wireTabs(); wireAudience(); wireCanned(); wireProgress(); wireLifeAlerts();
  });
})();
