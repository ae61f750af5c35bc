/* rdsla report: sort and filter the events table, copy the ticket text and the ask-list. No network, no HTML
   built from data: rows are only reordered and hidden; text goes through textContent. */
(function () {
  "use strict";

  function cellKey(row, col) {
    var cell = row.cells[col];
    if (!cell) { return ""; }
    var key = cell.getAttribute("data-key");
    return key === null ? cell.textContent.trim().toLowerCase() : key;
  }

  function setupEvents() {
    var table = document.getElementById("events-table");
    var controls = document.getElementById("events-controls");
    if (!table || !controls) { return; }
    var tbody = table.tBodies[0];
    var rows = Array.prototype.slice.call(tbody.rows);
    var texts = rows.map(function (r) { return r.textContent.toLowerCase(); });
    var filter = document.getElementById("events-filter");
    var level = document.getElementById("events-level");
    var count = document.getElementById("events-count");
    controls.hidden = false;

    function apply() {
      var terms = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
      var wanted = level.value;
      var shown = 0;
      rows.forEach(function (row, i) {
        var ok = (!wanted || row.getAttribute("data-level") === wanted) &&
          terms.every(function (t) { return texts[i].indexOf(t) !== -1; });
        row.hidden = !ok;
        if (ok) { shown += 1; }
      });
      count.textContent = shown + " of " + rows.length + " rows shown";
    }
    filter.addEventListener("input", apply);
    level.addEventListener("change", apply);

    var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
    headers.forEach(function (th, col) {
      var button = th.querySelector("button");
      if (!button) { return; }
      button.addEventListener("click", function () {
        var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
        var numeric = th.getAttribute("data-type") === "num";
        headers.forEach(function (h) { h.removeAttribute("aria-sort"); });
        var order = rows.map(function (row, i) { return i; });
        order.sort(function (a, b) {
          var x = cellKey(rows[a], col), y = cellKey(rows[b], col), c;
          if (numeric) {
            c = (parseFloat(x) || 0) - (parseFloat(y) || 0);
          } else {
            c = x < y ? -1 : x > y ? 1 : 0;
          }
          return c === 0 ? a - b : c * dir;
        });
        var fragment = document.createDocumentFragment();
        var sortedRows = order.map(function (i) { return rows[i]; });
        var sortedTexts = order.map(function (i) { return texts[i]; });
        sortedRows.forEach(function (row) { fragment.appendChild(row); });
        tbody.appendChild(fragment);
        rows = sortedRows;
        texts = sortedTexts;
        th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
      });
    });
    apply();
  }

  /* A copy button for a block of plain text (the ticket, the ask-list); a hidden block is shown
     only while it is selected for the fallback copy. */
  function setupCopy(buttonId, preId, statusId) {
    var button = document.getElementById(buttonId);
    var pre = document.getElementById(preId);
    var status = document.getElementById(statusId);
    if (!button || !pre) { return; }
    button.hidden = false;
    function select() {
      var range = document.createRange();
      range.selectNodeContents(pre);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
    }
    function done(message) { if (status) { status.textContent = message; } }
    button.addEventListener("click", function () {
      var fallback = function () {
        var ok = false, wasHidden = pre.hidden;
        pre.hidden = false;
        select();
        try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
        if (ok) { pre.hidden = wasHidden; }
        done(ok ? "Copied." : "Selected: press Ctrl+C to copy.");
      };
      if (!pre.hidden) { select(); }
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(pre.textContent).then(function () { done("Copied."); }, fallback);
      } else {
        fallback();
      }
    });
  }

  function setupPrint() {
    window.addEventListener("beforeprint", function () {
      Array.prototype.forEach.call(document.querySelectorAll("details"), function (d) { d.open = true; });
    });
  }

  setupEvents();
  setupCopy("copy-ticket", "ticket-text", "copy-status");
  setupCopy("copy-asks", "ask-text", "copy-asks-status");
  setupPrint();
}());
