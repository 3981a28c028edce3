// The control room: up to four camera tiles (latest picture, health, open violations), the
// live feed of events and what is overdue. New events arrive over the stream.
import { api } from "./api.js";
import { el } from "./format.js";
import { overdue } from "./loop.js";
import { eventRow } from "./rows.js";

const TILES = 4;
const FEED = 30;

async function cameraIds(cameras, recent) {
  const ids = cameras.map((c) => c.id);
  for (const e of recent) if (!ids.includes(e.camera)) ids.push(e.camera);
  return ids.slice(0, TILES);
}

function tile(id, health) {
  const state = health ? (health.stale ? "stale" : health.state) : "no worker";
  const img = el("img", { alt: `latest picture of ${id}`, src: `/api/v1/cameras/${encodeURIComponent(id)}/snapshot?t=${Date.now()}` });
  const none = el("div", { class: "none", hidden: true }, "no picture yet");
  img.onerror = () => { img.hidden = true; none.hidden = false; };
  const open = el("a", { class: "open", href: `#/events?camera=${encodeURIComponent(id)}&state=open` }, "…");
  const node = el("div", { class: "tile", dataset: { camera: id } },
    img, none,
    el("div", { class: "cap" },
      el("b", {}, health && health.name ? health.name : id),
      el("span", { class: `state ${state.replace(" ", "-")}` }, state),
      health ? el("span", { class: "muted" }, `${health.fps_analysed.toFixed(1)} fps`) : null),
    open);
  node.refresh = async () => {
    const page = await api.get("/events", { camera: id, state: "open", limit: 100 });
    const n = page.events.length;
    open.textContent = n ? `${n}${page.next_cursor ? "+" : ""} open` : "no open violations";
    open.style.color = n ? "var(--high)" : "";
  };
  node.picture = () => {
    img.hidden = false;
    none.hidden = true;
    img.src = `/api/v1/cameras/${encodeURIComponent(id)}/snapshot?t=${Date.now()}`;
  };
  return node;
}

export async function live(view, ctx) {
  const [cameras, page, late] = await Promise.all([
    api.get("/cameras"), api.get("/events", { limit: FEED }), overdue(),
  ]);
  const health = Object.fromEntries(cameras.map((c) => [c.id, c]));
  const ids = await cameraIds(cameras, page.events);
  const tiles = ids.map((id) => tile(id, health[id]));
  const feed = el("div", { class: "feed", id: "feed" }, page.events.map((e) => eventRow(e)));
  if (!page.events.length) feed.append(el("p", { class: "empty" }, "No events yet."));
  const overdueList = el("div", { class: "feed", id: "overdue" },
    late.length ? late.map((e) => eventRow(e))
      : el("p", { class: "muted" }, "Nothing overdue."));
  view.append(el("div", { class: "grid live" },
    el("section", { class: "panel" }, el("h2", {}, "Cameras"),
      tiles.length ? el("div", { class: "tiles" }, tiles)
        : el("p", { class: "empty" }, "No camera has reported yet.")),
    el("div", { class: "grid" },
      el("section", { class: "panel" }, el("h2", {}, "Live events"), feed),
      el("section", { class: "panel" }, el("h2", {}, "Overdue"), overdueList))));
  tiles.forEach((t) => t.refresh().catch(() => {}));

  const unsubscribe = ctx.onChange(({ type, event }) => {
    const old = feed.querySelector(`[data-id="${CSS.escape(event.id)}"]`);
    const row = eventRow(event, { fresh: type === "new" });
    if (old) old.replaceWith(row);
    else if (type === "new") {
      feed.querySelector(".empty")?.remove();
      feed.prepend(row);
      while (feed.children.length > FEED) feed.lastChild.remove();
    }
    const t = tiles.find((x) => x.dataset.camera === event.camera);
    if (t) {
      t.refresh().catch(() => {});
      if (type === "end") t.picture();
    }
  });
  const timer = setInterval(async () => {
    const fresh = await api.get("/cameras").catch(() => null);
    if (!fresh) return;
    for (const c of fresh) {
      const s = tiles.find((x) => x.dataset.camera === c.id)?.querySelector(".state");
      if (s) {
        const st = c.stale ? "stale" : c.state;
        s.className = `state ${st}`;
        s.textContent = st;
      }
    }
  }, 10000);
  document.title = "Live · Vigil";
  return () => { unsubscribe(); clearInterval(timer); };
}

