"""The leaderboard site's stylesheet and its one small script (Table I's filters and sorting), written into the
site's `assets/` folder by `leaderboard.site`. Kept as Python strings so that they travel with the package (no
package data to declare); plain CSS and plain JavaScript, nothing fetched at view time."""

from __future__ import annotations

CSS = """
:root { --fg: #1d2330; --muted: #5b6475; --line: #d9dde5; --bg: #ffffff; --soft: #f4f6f9; --accent: #1f5fbf;
        --good: #1d7a3a; --bad: #b3261e; --tie: #8a6d00; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: var(--fg); background: var(--bg); }
header.top { background: #17202f; color: #fff; padding: 10px 24px; display: flex; gap: 20px; align-items: baseline;
             flex-wrap: wrap; }
header.top a { color: #cfe0ff; text-decoration: none; }
header.top .brand { font-weight: 700; font-size: 16px; color: #fff; }
main { max-width: 1240px; margin: 0 auto; padding: 12px 24px 48px; }
h1 { font-size: 22px; margin: 14px 0 6px; }
h2 { font-size: 17px; margin: 26px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
a { color: var(--accent); }
p.lead { color: var(--muted); margin-top: 0; }
.note { background: #fff8e1; border: 1px solid #f0d98c; padding: 8px 12px; border-radius: 6px; margin: 10px 0; }
.warn { background: #fdecea; border: 1px solid #f2b8b5; padding: 8px 12px; border-radius: 6px; margin: 10px 0; }
.muted { color: var(--muted); }
code, pre { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size: 12.5px; }
pre { background: var(--soft); border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px;
      overflow-x: auto; }
table { border-collapse: collapse; }
table.data { width: 100%; margin: 6px 0 10px; }
table.data th, table.data td { border: 1px solid var(--line); padding: 5px 7px; vertical-align: top; text-align: left; }
table.data th { background: var(--soft); font-weight: 600; }
table.kv td:first-child { color: var(--muted); white-space: nowrap; width: 1%; }
table.kv td { border-bottom: 1px solid var(--line); padding: 3px 10px 3px 0; vertical-align: top; }
.table-wrap { overflow-x: auto; }
#table-one th.algo { cursor: pointer; white-space: nowrap; }
#table-one th.algo .sort { color: var(--muted); font-size: 11px; }
#table-one td.cell { min-width: 132px; }
#table-one td.empty { color: #9aa2b1; }
#table-one .ours { font-weight: 600; }
#table-one .paper { color: var(--muted); white-space: nowrap; }
#table-one tbody td:nth-child(-n+2) { white-space: nowrap; }
#table-one .seeds { font-size: 12px; color: var(--muted); }
#table-one .seeds a { margin-right: 3px; }
.tag { display: inline-block; font-size: 11px; padding: 0 6px; border-radius: 9px; border: 1px solid var(--line);
       background: var(--soft); color: var(--muted); font-weight: 500; white-space: nowrap; }
.tag.new { background: #eef4ff; border-color: #bcd0f5; color: #1f4f9f; }
.tag.ref { background: #f3eefc; border-color: #d4c4f0; color: #5b3a9a; }
.mark { display: inline-block; font-size: 11px; padding: 0 5px; border-radius: 4px; margin: 2px 2px 0 0;
        text-decoration: none; white-space: nowrap; }
.mark.above { background: #e4f4e8; color: var(--good); }
.mark.below { background: #fdecea; color: var(--bad); }
.mark.tie { background: #fff5d6; color: var(--tie); }
.verdict { font-weight: 600; white-space: nowrap; }
.verdict.holds { color: var(--good); }
.verdict.fails { color: var(--bad); }
.verdict.few { color: var(--tie); }
.filters { display: flex; flex-wrap: wrap; gap: 14px; align-items: center; margin: 6px 0; font-size: 13px; }
.filters label { white-space: nowrap; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 14px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; background: #fff; }
.card h3 { margin: 0 0 6px; font-size: 14px; word-break: break-all; }
.card .facts { font-size: 12.5px; color: var(--muted); }
img.preview { image-rendering: pixelated; width: 192px; height: auto; border-radius: 4px; background: #000;
              display: block; margin: 4px 0 8px; }
.card img.preview { width: 128px; }
.charts { display: flex; flex-wrap: wrap; gap: 10px 18px; }
svg.chart { background: #fff; border: 1px solid var(--line); border-radius: 6px; max-width: 100%; height: auto; }
svg.chart .grid { stroke: #eceff4; }
svg.chart .axis { stroke: #8a93a3; }
svg.chart .tick, svg.chart .legend { font-size: 10px; fill: #5b6475; }
svg.chart .label { font-size: 11px; fill: #3b4352; }
svg.chart .title { font-size: 12px; font-weight: 600; fill: #1d2330; }
img.figure { max-width: 100%; border: 1px solid var(--line); border-radius: 6px; background: #fff; }
footer { color: var(--muted); font-size: 12px; margin-top: 40px; border-top: 1px solid var(--line); padding-top: 8px; }
ul.lines { margin: 4px 0; padding-left: 20px; }
"""

JS = """
// Table I: filter rows by task and dataset kind, show or hide algorithm columns, sort rows by a column.
(function () {
  "use strict";
  var table = document.getElementById("table-one");
  if (!table) { return; }
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var task = document.getElementById("filter-task");
  var kind = document.getElementById("filter-kind");
  var ran = document.getElementById("filter-ran");
  function apply() {
    rows.forEach(function (row) {
      var show = (!task || !task.value || row.getAttribute("data-task") === task.value) &&
                 (!kind || !kind.value || row.getAttribute("data-kind") === kind.value) &&
                 (!ran || !ran.checked || row.getAttribute("data-ran") === "1");
      row.hidden = !show;
    });
  }
  [task, kind, ran].forEach(function (el) { if (el) { el.addEventListener("change", apply); } });
  Array.prototype.forEach.call(document.querySelectorAll("input.algo-toggle"), function (box) {
    box.addEventListener("change", function () {
      var algo = box.getAttribute("data-algo");
      Array.prototype.forEach.call(table.querySelectorAll('[data-algo="' + algo + '"]'), function (cell) {
        cell.hidden = !box.checked;
      });
    });
  });
  var order = {};
  Array.prototype.forEach.call(table.querySelectorAll("th.algo"), function (th) {
    th.addEventListener("click", function () {
      var algo = th.getAttribute("data-algo");
      var down = order[algo] = !order[algo];
      function value(row) {
        var cell = row.querySelector('td[data-algo="' + algo + '"]');
        var v = cell ? parseFloat(cell.getAttribute("data-value")) : NaN;
        return isNaN(v) ? -Infinity : v;
      }
      var sorted = rows.slice().sort(function (a, b) {
        var d = down ? value(b) - value(a) : value(a) - value(b);
        return d || (rows.indexOf(a) - rows.indexOf(b));
      });
      sorted.forEach(function (row) { body.appendChild(row); });
      Array.prototype.forEach.call(table.querySelectorAll("th.algo .sort"), function (s) { s.textContent = ""; });
      th.querySelector(".sort").textContent = down ? " \\u25BC" : " \\u25B2";
    });
  });
  var reset = document.getElementById("filter-reset");
  if (reset) {
    reset.addEventListener("click", function () {
      rows.forEach(function (row) { body.appendChild(row); });
      if (task) { task.value = ""; }
      if (kind) { kind.value = ""; }
      if (ran) { ran.checked = false; }
      Array.prototype.forEach.call(document.querySelectorAll("input.algo-toggle"), function (box) {
        if (!box.checked) { box.checked = true; box.dispatchEvent(new Event("change")); }
      });
      Array.prototype.forEach.call(table.querySelectorAll("th.algo .sort"), function (s) { s.textContent = ""; });
      order = {};
      apply();
    });
  }
  apply();
})();
"""
