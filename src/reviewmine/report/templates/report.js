/* reviewmine report: app filter, app profile with quotes on hover, quote explorer, sortable and
   searchable tables. No network. */
(function () {
  "use strict";
  window.addEventListener("error", function (event) {
    document.body.setAttribute("data-js-error", String(event.message));
  });
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var ALL = data.all_apps;
  var select = document.getElementById("app-filter");
  var tooltip = document.getElementById("tooltip");

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function pct(x) { return (100 * x).toFixed(1) + "%"; }
  function quotesFor(app, code, polarity) {
    return data.quotes[app + "|" + code + "|" + polarity] || [];
  }
  function quoteMeta(q) {
    var parts = [q.date];
    if (q.version) { parts.push("version " + q.version); }
    if (q.rating) { parts.push(q.rating + "★"); }
    parts.push(q.store);
    if (q.reviewer) { parts.push(q.reviewer); }
    return parts.join(" · ");
  }

  data.apps.forEach(function (a) {
    var option = el("option", null, a.app + " (n=" + a.n.toLocaleString("en") + (a.small_n ? ", small n" : "") + ")");
    option.value = a.app;
    select.appendChild(option);
  });

  function showTooltip(event, app, cell, polarity) {
    tooltip.replaceChildren();
    var count = polarity === "barrier" ? cell.b : cell.f;
    var share = polarity === "barrier" ? cell.bs : cell.fs;
    var low = polarity === "barrier" ? cell.bl : cell.fl;
    var high = polarity === "barrier" ? cell.bh : cell.fh;
    tooltip.appendChild(el("strong", null, cell.label + ": " + polarity));
    tooltip.appendChild(el("div", "meta", count + " reviews, " + pct(share) + " (95% CI " + pct(low) + "–" + pct(high) + ")"));
    var quotes = quotesFor(app, cell.code, polarity);
    if (!quotes.length) { tooltip.appendChild(el("div", "meta", "no quote")); }
    quotes.forEach(function (q) {
      var block = el("div", "quote");
      block.appendChild(el("div", null, "“" + q.quote + "”"));
      block.appendChild(el("div", "meta", quoteMeta(q)));
      tooltip.appendChild(block);
    });
    tooltip.style.display = "block";
    moveTooltip(event);
  }
  function moveTooltip(event) {
    var x = Math.min(event.clientX + 14, window.innerWidth - tooltip.offsetWidth - 8);
    var y = event.clientY + 14;
    if (y + tooltip.offsetHeight > window.innerHeight) { y = Math.max(4, event.clientY - tooltip.offsetHeight - 10); }
    tooltip.style.left = x + "px";
    tooltip.style.top = y + "px";
  }
  function hideTooltip() { tooltip.style.display = "none"; }

  function renderProfile(app) {
    var box = document.getElementById("profile-bars");
    box.replaceChildren();
    ["factor", "barrier share", "facilitator share", "net"].forEach(function (h) { box.appendChild(el("div", "head", h)); });
    var cells = data.cells[app] || [];
    var max = 0.01;
    cells.forEach(function (c) { max = Math.max(max, c.bs, c.fs); });
    cells.forEach(function (c) {
      var name = el("div", "cat-" + (c.category || "other"), c.label);
      name.title = c.category + " factor";
      box.appendChild(name);
      [["barrier", "bar-left", c.bs], ["facilitator", "bar-right", c.fs]].forEach(function (spec) {
        var holder = el("div", spec[1]);
        var bar = el("div", "bar " + spec[0]);
        bar.style.width = (100 * spec[2] / max) + "%";
        bar.setAttribute("data-code", c.code);
        bar.setAttribute("data-polarity", spec[0]);
        bar.addEventListener("mouseenter", function (event) { showTooltip(event, app, c, spec[0]); });
        bar.addEventListener("mousemove", moveTooltip);
        bar.addEventListener("mouseleave", hideTooltip);
        if (data.explore) {  // the bar opens the cell's reviews in the explorer
          var filters = {code: c.code, polarity: spec[0]};
          if (app !== ALL) { filters.app = app; }
          var link = el("a", "explore");
          link.href = data.explore + "/codes?" + new URLSearchParams(filters).toString();
          link.appendChild(bar);
          holder.appendChild(link);
        } else {
          holder.appendChild(bar);
        }
        box.appendChild(holder);
      });
      box.appendChild(el("div", "net", (c.net >= 0 ? "+" : "") + (100 * c.net).toFixed(1)));
    });
    var info = data.apps.filter(function (a) { return a.app === app; })[0];
    var note = document.getElementById("profile-note");
    note.textContent = cells.length ? (info.n.toLocaleString("en") + " analysed reviews" + (info.small_n ? " — small n: shares are imprecise" : "") + ". Hover a bar for typical quotes.") : "No engagement factors coded for this app.";
  }

  // A row shows when it passes both the app filter and its table's search box.
  function showRows(table) {
    var query = (table.getAttribute("data-query") || "").toLowerCase();
    var app = select.value;
    table.querySelectorAll("tbody tr").forEach(function (row) {
      var rowApp = row.getAttribute("data-app");
      var appOk = rowApp === null || app === ALL || rowApp === app || rowApp === ALL;
      row.hidden = !(appOk && (!query || row.textContent.toLowerCase().indexOf(query) >= 0));
    });
  }
  function filterTables() {
    document.querySelectorAll("table.data").forEach(showRows);
  }
  function sortValue(cell, numeric) {
    var text = cell.textContent.trim();
    if (!numeric) { return text.toLowerCase(); }
    var value = parseFloat(text.replace(/\u2212/g, "-").replace(/[,%+]/g, ""));
    return isNaN(value) ? -Infinity : value;
  }
  function sortTable(table, column, header) {
    var descending = header.getAttribute("aria-sort") === "ascending";
    table.querySelectorAll("th").forEach(function (th) { th.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", descending ? "descending" : "ascending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var numeric = rows.length > 0 && rows[0].cells[column].classList.contains("num");
    rows.sort(function (a, b) {
      var x = sortValue(a.cells[column], numeric), y = sortValue(b.cells[column], numeric);
      return (x < y ? -1 : x > y ? 1 : 0) * (descending ? -1 : 1);
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }
  document.querySelectorAll("table.data").forEach(function (table) {
    var search = el("input", "table-search");
    search.type = "search";
    search.placeholder = "Filter rows";
    search.setAttribute("aria-label", "Filter the rows of this table");
    table.parentNode.parentNode.insertBefore(search, table.parentNode);
    search.addEventListener("input", function () {
      table.setAttribute("data-query", search.value);
      showRows(table);
    });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (header, column) {
      header.tabIndex = 0;
      header.title = "Sort by this column";
      header.addEventListener("click", function () { sortTable(table, column, header); });
      header.addEventListener("keydown", function (event) {
        if (event.key === "Enter") { sortTable(table, column, header); }
      });
    });
  });

  var codeSelect = document.getElementById("quote-code");
  var polaritySelect = document.getElementById("quote-polarity");
  data.codes.forEach(function (c) {
    var option = el("option", null, c.label);
    option.value = c.code;
    codeSelect.appendChild(option);
  });
  function renderQuotes() {
    var app = select.value;
    var box = document.getElementById("quote-list");
    box.replaceChildren();
    var polarities = polaritySelect.value === "both" ? ["barrier", "facilitator", "neutral"] : [polaritySelect.value];
    var codes = codeSelect.value === "all" ? data.codes.map(function (c) { return c.code; }) : [codeSelect.value];
    var shown = 0;
    codes.forEach(function (code) {
      polarities.forEach(function (polarity) {
        quotesFor(app, code, polarity).forEach(function (q) {
          var block = el("blockquote", polarity);
          var head = el("div");
          head.appendChild(el("span", "badge " + polarity, q.label + ": " + polarity));
          block.appendChild(head);
          block.appendChild(el("div", null, "“" + q.quote + "”"));
          if (q.review_text && q.review_text !== q.quote) {
            var more = el("details");
            more.appendChild(el("summary", null, "whole review"));
            more.appendChild(el("div", null, q.review_text));
            block.appendChild(more);
          }
          block.appendChild(el("span", "meta", quoteMeta(q) + " · one of " + q.cell_reviews + " reviews in this cell"
            + (q.small_cell ? " (fewer than 10: read as an example, not as typical)" : "")));
          if (q.url) {
            var link = el("a", "explore", "open in explorer");
            link.href = q.url;
            block.appendChild(document.createTextNode(" "));
            block.appendChild(link);
          }
          box.appendChild(block);
          shown += 1;
        });
      });
    });
    document.getElementById("quote-count").textContent = shown + " quotes";
  }

  function update() {
    renderProfile(select.value);
    filterTables();
    renderQuotes();
  }
  select.addEventListener("change", update);
  codeSelect.addEventListener("change", renderQuotes);
  polaritySelect.addEventListener("change", renderQuotes);
  select.value = ALL;
  update();
  document.body.setAttribute("data-ready", "1");
})();
