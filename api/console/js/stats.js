// Counts by rule, camera, zone and day as SVG charts, over a chosen range; CSV export.
import { api } from "./api.js";
import { el, label, svg } from "./format.js";

const RANGES = [["7", "Last 7 days"], ["30", "Last 30 days"], ["90", "Last 90 days"], ["", "Everything"]];

/** Every day from the first to the last (a day without events is a zero), when the span is
 * short enough to chart day by day. */
export function everyDay(rows) {
  if (rows.length < 2) return rows;
  const first = new Date(`${rows[0].day}T00:00:00Z`);
  const last = new Date(`${rows[rows.length - 1].day}T00:00:00Z`);
  const span = Math.round((last - first) / 86400e3) + 1;
  if (span > 400) return rows;
  const counts = new Map(rows.map((r) => [r.day, r.count]));
  return Array.from({ length: span }, (_, i) => {
    const day = new Date(first.getTime() + i * 86400e3).toISOString().slice(0, 10);
    return { day, count: counts.get(day) || 0 };
  });
}

function bars(rows, name, named = (key) => key) {
  const max = Math.max(1, ...rows.map((r) => r.count));
  const W = 400; const row = 22;
  if (!rows.length) return el("p", { class: "muted" }, "None.");
  return svg("svg", { class: "bars", id: `by-${name}`, viewBox: `0 0 ${W} ${rows.length * row}` },
    rows.map((r, i) => [
      svg("text", { x: 0, y: i * row + 15 }, r.key === null ? "(no zone)" : named(r.key)),
      svg("rect", { x: 130, y: i * row + 4, width: Math.max(2, (r.count / max) * (W - 190)), height: row - 8, rx: 2, fill: "#3d8bfd" }),
      svg("text", { class: "n", x: 136 + (r.count / max) * (W - 190), y: i * row + 15 }, r.count),
    ]));
}

function days(rows) {
  rows = everyDay(rows);
  if (!rows.length) return el("p", { class: "muted" }, "None.");
  const W = 800; const H = 180; const P = 22;
  const max = Math.max(1, ...rows.map((r) => r.count));
  const bw = (W - 2 * P) / rows.length;
  return svg("svg", { class: "bars", id: "by-day", viewBox: `0 0 ${W} ${H}` },
    svg("text", { class: "n", x: 0, y: 12 }, max),
    rows.map((r, i) => {
      const h = (r.count / max) * (H - 2 * P);
      return svg("rect", { x: P + i * bw + 1, y: H - P - h, width: Math.max(1, bw - 2), height: h, fill: "#ff9f1a" },
        svg("title", {}, `${r.day}: ${r.count}`));
    }),
    svg("text", { class: "n", x: P, y: H - 4 }, rows[0].day),
    svg("text", { class: "n", x: W - P - 60, y: H - 4 }, rows[rows.length - 1].day));
}

/** The counts as CSV text: group,key,count. */
export function toCsv(s) {
  const q = (v) => (v === null ? "" : /[",\n]/.test(String(v)) ? `"${String(v).replaceAll('"', '""')}"` : v);
  const lines = ["group,key,count"];
  for (const [group, rows] of [["rule", s.by_rule], ["camera", s.by_camera], ["zone", s.by_zone]]) {
    for (const r of rows) lines.push(`${group},${q(r.key)},${r.count}`);
  }
  for (const r of s.by_day) lines.push(`day,${r.day},${r.count}`);
  return `${lines.join("\n")}\n`;
}

export async function stats(view) {
  const range = el("select", { id: "range" }, RANGES.map(([v, t]) => el("option", { value: v, selected: v === "30" }, t)));
  const body = el("div", { class: "grid stats", id: "stats" });
  const exportLink = el("a", { id: "csv", download: "vigil-counts.csv", href: "#" }, "Export CSV");
  view.append(el("section", { class: "panel" },
    el("div", { class: "head" }, el("h1", {}, "Stats"), range, exportLink), body));
  let url = null;
  let asked = 0; // the latest range asked for: an older answer arriving later is dropped
  async function load() {
    const mine = ++asked;
    const daysBack = Number(range.value);
    const s = await api.get("/stats", {
      since: daysBack ? new Date(Date.now() - daysBack * 86400e3).toISOString() : undefined,
      utc_offset_minutes: -new Date().getTimezoneOffset(),
    });
    if (mine !== asked) return;
    if (url) URL.revokeObjectURL(url);
    url = URL.createObjectURL(new Blob([toCsv(s)], { type: "text/csv" }));
    exportLink.href = url;
    body.replaceChildren(
      el("section", { class: "panel" }, el("h2", {}, "Events"), el("div", { class: "big", id: "total" }, s.total)),
      el("section", { class: "panel" }, el("h2", {}, "By rule"), bars(s.by_rule, "rule", label)),
      el("section", { class: "panel" }, el("h2", {}, "By camera"), bars(s.by_camera, "camera")),
      el("section", { class: "panel" }, el("h2", {}, "By zone"), bars(s.by_zone, "zone")),
      el("section", { class: "panel", style: "grid-column: 1 / -1" }, el("h2", {}, "By day"), days(s.by_day)));
  }
  range.onchange = load;
  await load();
  document.title = "Stats · Vigil";
  return () => url && URL.revokeObjectURL(url);
}
