// The leaderboard page (grader/board/page.py): sortable tables, and the reader's own
// results marked (?me=LOGIN). Reads only the page's own tables and the URL; builds every
// element with the DOM API and sets text with textContent, never markup.
"use strict";
(() => {
  const LOGIN = /^[A-Za-z0-9][A-Za-z0-9-]{0,38}(\[bot\])?$/;
  const SVG = "http://www.w3.org/2000/svg";

  function cellValue(row, index, numeric) {
    const cell = row.cells[index];
    const raw = cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent.trim();
    if (!numeric) return raw.toLowerCase();
    return raw === "" ? null : Number(raw);
  }

  function sortTable(table, index, head) {
    const numeric = head.dataset.type === "number";
    const ascending = head.getAttribute("aria-sort") !== "ascending";
    const body = table.tBodies[0];
    const keyed = Array.from(body.rows, (row, order) => [cellValue(row, index, numeric), order, row]);
    keyed.sort((a, b) => {
      if (a[0] === null || b[0] === null) {  // empty cells last, either way
        return a[0] === b[0] ? a[1] - b[1] : a[0] === null ? 1 : -1;
      }
      const order = a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
      return (ascending ? order : -order) || a[1] - b[1];
    });
    body.append(...keyed.map((entry) => entry[2]));
    for (const other of head.parentNode.cells) other.removeAttribute("aria-sort");
    head.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }

  for (const table of document.querySelectorAll("table.sortable")) {
    Array.from(table.tHead.rows[0].cells).forEach((head, index) => {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = head.textContent;
      head.replaceChildren(button);
      button.addEventListener("click", () => sortTable(table, index, head));
    });
  }

  function xOf(layer, seconds) {
    const axis = (name) => Number(layer.getAttribute("data-" + name));
    const low = Math.log10(axis("low"));
    const high = Math.log10(axis("high"));
    const value = Math.min(Math.max(Math.log10(Math.max(seconds, 1)), low), high);
    return axis("left") + ((value - low) / (high - low)) * (axis("right") - axis("left"));
  }

  function formatDuration(seconds) {
    const total = Math.round(seconds);
    const hours = Math.floor(total / 3600);
    const minutes = Math.floor((total % 3600) / 60);
    const pad = (n) => String(n).padStart(2, "0");
    return hours ? `${hours}h ${pad(minutes)}m` : `${minutes}m ${pad(total % 60)}s`;
  }

  function drawMarker(layer, seconds, label) {
    const x = xOf(layer, seconds);
    const top = Number(layer.getAttribute("data-top"));
    const line = document.createElementNS(SVG, "line");
    for (const [name, value] of [["x1", x], ["x2", x], ["y1", top - 6], ["y2", layer.getAttribute("data-bottom")]]) {
      line.setAttribute(name, value);
    }
    line.setAttribute("class", "you-line");
    const text = document.createElementNS(SVG, "text");
    const right = x > 240;
    text.setAttribute("x", x);
    text.setAttribute("y", top + 2);
    text.setAttribute("dx", right ? -4 : 4);
    text.setAttribute("text-anchor", right ? "end" : "start");
    text.setAttribute("class", "you-label");
    text.textContent = label;
    layer.replaceChildren(line, text);
  }

  const me = new URLSearchParams(window.location.search).get("me");
  const status = document.querySelector(".me-status");
  if (me === null || me === "") return;
  if (!LOGIN.test(me)) {
    if (status) status.textContent = "not a GitHub login";
    return;
  }
  const input = document.querySelector("form.me input");
  if (input) input.value = me;
  let marked = 0;
  for (const row of document.querySelectorAll("tr[data-user]")) {
    if (row.dataset.user === me) {
      row.classList.add("me");
      marked += 1;
    }
  }
  for (const figure of document.querySelectorAll("figure.chart[data-kata]")) {
    const table = Array.from(document.querySelectorAll("table[data-kata]")).find(
      (candidate) => candidate.dataset.kata === figure.dataset.kata,
    );
    const row = table && Array.from(table.tBodies[0].rows).find((r) => r.dataset.user === me);
    const caption = figure.querySelector(".you-caption");
    const layer = figure.querySelector("svg.you");
    if (row && row.dataset.seconds !== "" && row.cells[2].getAttribute("data-sort") === "green") {
      const seconds = Number(row.dataset.seconds);
      drawMarker(layer, seconds, `${me}: ${formatDuration(seconds)}`);
      if (caption) caption.textContent = `Red line: ${me}, ${formatDuration(seconds)}, rank ${row.cells[0].textContent}.`;
    } else if (caption) {
      caption.textContent = `${me} has no ranked green result here yet.`;
    }
  }
  if (status) status.textContent = marked ? `marked ${me}` : `no results for ${me}`;
})();
