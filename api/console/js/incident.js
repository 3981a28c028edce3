// Incident replay (#/incident?t=ISO&m=MINUTES&c=CAM,CAM): every event within ±m minutes of a
// moment on one shared timeline, and the chosen cameras side by side, played in sync by one
// clock: their continuous recordings, or their event clips where a camera has none.
// Keys: space play/pause, ←/→ 5 s (shift: 1 min).
import { api } from "./api.js";
import { el, label, severity } from "./format.js";
import { ClipPlayer, RecordingPlayer } from "./players.js";
import { SyncClock } from "./sync.js";
import { TimeAxis, clock, wallSpan } from "./timeaxis.js";
import { iso, parseTime, transport } from "./replay.js";

const MINUTES = [1, 2, 5, 10, 30, 60];
const MAX_CAMERAS = 4;

function localInput(wall) {
  const d = new Date(wall * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Every event that started in [a, b) the caller may see (a few pages at most). */
async function eventsBetween(a, b) {
  const out = [];
  let cursor;
  for (let i = 0; i < 4; i += 1) {
    const page = await api.get("/events", { since: iso(a), until: iso(b), limit: 500, cursor });
    out.push(...page.events);
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  return out.reverse(); // oldest first
}

export async function incident(view, ctx) {
  const q = new URLSearchParams(location.hash.split("?")[1] || "");
  const at = parseTime(q.get("t")) ?? Math.floor(Date.now() / 1000) - 600;
  const minutes = MINUTES.includes(Number(q.get("m"))) ? Number(q.get("m")) : 5;
  const [a, b] = [at - minutes * 60, at + minutes * 60];
  document.title = "Incident replay · Vigil";

  const [configured, events] = await Promise.all([
    api.get("/cameras").then((cs) => cs.map((c) => c.id)).catch(() => []),
    eventsBetween(a, b),
  ]);
  const asked = (q.get("c") || "").split(",").filter(Boolean); // the API decides what is visible
  const cameras = [...new Set([...configured, ...events.map((e) => e.camera), ...asked])]
    .filter((c) => !c.startsWith("area:"));
  const withEvents = cameras.filter((c) => events.some((e) => e.camera === c));
  const chosen = (asked.length ? asked : [...withEvents, ...cameras.filter((c) => !withEvents.includes(c))])
    .slice(0, MAX_CAMERAS);

  // the form: a moment, how far around it, which cameras
  const when = el("input", { type: "datetime-local", step: 1, name: "t", id: "incident-time", value: localInput(at), required: true });
  const span = el("select", { name: "m", id: "incident-minutes" },
    MINUTES.map((m) => el("option", { value: m, selected: m === minutes }, `± ${m} min`)));
  const boxes = cameras.map((c) => el("label", {},
    el("input", { type: "checkbox", name: "c", value: c, checked: chosen.includes(c) }), c,
    events.some((e) => e.camera === c) ? el("span", { class: "muted" }, ` (${events.filter((e) => e.camera === c).length})`) : null));
  const form = el("form", { class: "incident-form", id: "incident-form" },
    el("label", {}, "Around", when), el("label", {}, "Window", span),
    el("div", { class: "cams" }, el("span", { class: "muted" }, "Cameras"), boxes),
    el("button", { type: "submit", class: "primary" }, "Show"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const t = new Date(when.value).getTime() / 1000;
    const cams = [...form.querySelectorAll("input[name=c]:checked")].map((x) => x.value).slice(0, MAX_CAMERAS);
    location.hash = `#/incident?t=${iso(t)}&m=${span.value}&c=${cams.map(encodeURIComponent).join(",")}`;
  });

  // one screen, one player and one lane per camera
  const walls = el("div", { class: `walls n${chosen.length}`, id: "walls" });
  const players = [];
  const lanes = [];
  for (const camera of chosen) {
    const mine = events.filter((e) => e.camera === camera);
    const recordings = await api.get(`/cameras/${encodeURIComponent(camera)}/recordings`, { start: iso(a), end: iso(b) })
      .catch(() => ({ segments: [], spans: [] }));
    const video = el("video", { muted: true, playsinline: true, preload: "auto", dataset: { camera } });
    const stamp = el("div", { class: "stamp mono" }, camera);
    const gone = el("div", { class: "gone", hidden: true }, "Not recorded at this moment");
    let player;
    let spans;
    let kind;
    if (recordings.segments.length) {
      player = new RecordingPlayer(video, { onError: (err) => { gone.hidden = false; gone.textContent = err.message; } });
      await player.load(recordings, at);
      spans = recordings.spans.map((s) => wallSpan(s));
      kind = "recording";
    } else {
      const clips = await ClipPlayer.clipsOf(mine);
      player = new ClipPlayer(video, clips);
      spans = clips;
      kind = clips.length ? "event clips" : "nothing recorded";
    }
    players.push(player);
    walls.append(el("div", { class: "screen", dataset: { camera, kind } }, video, stamp, gone,
      el("div", { class: "kind" }, kind)));
    lanes.push({ camera, spans, events: mine, stamp, gone, player, kind });
  }

  const sync = new SyncClock(players, { onTick: (t, playing) => show(t, playing) });
  const controls = transport({
    toggle: () => (sync.playing ? sync.pause() : sync.play()),
    step: (s) => sync.seek((sync.now() ?? at) + s),
    rate: (r) => sync.setRate(r),
  });
  const axisBox = el("div", { class: "axes" });
  const axis = new TimeAxis(axisBox, { id: "incident-axis", onSeek: (w) => sync.seek(w) });
  axis.setWindow(a, b);
  for (const lane of lanes) {
    axis.lane({ spans: lane.spans, events: lane.events, caption: lane.camera, id: lane.camera, onEvent: (s) => sync.seek(s) })
      .classList.toggle("clips", lane.kind !== "recording");
  }
  const pin = el("div", { class: "pin", title: "the incident's moment", style: `left:${axis.x(at)}%` });
  axis.body.append(pin);
  const list = el("div", { class: "incident-events", id: "incident-events" },
    events.length ? events.map((e) => {
      const start = Date.parse(e.start_time) / 1000;
      return el("button", { type: "button", class: "day-event", dataset: { id: e.id }, onclick: () => sync.seek(start) },
        el("span", { class: "mono" }, clock(start)), severity(e.severity), el("b", {}, label(e.rule)),
        el("span", { class: "muted" }, e.camera));
    }) : el("p", { class: "muted" }, "No events in this window."));

  view.append(el("section", { class: "panel incident", id: "incident" },
    el("div", { class: "head" }, el("h1", {}, "Incident replay"),
      el("a", { class: "button-link", href: `#/replay/${encodeURIComponent(chosen[0] || "")}?t=${iso(at)}&zoom=600` }, "Camera timeline")),
    form,
    chosen.length ? [walls, controls.bar, axisBox,
      el("h2", {}, `${events.length} event${events.length === 1 ? "" : "s"} from ${clock(a)} to ${clock(b)}`), list]
      : el("p", { class: "empty" }, "Pick at least one camera.")));

  function show(t, playing) {
    axis.setPlayhead(t);
    controls.show(t, playing);
    for (const lane of lanes) {
      const w = lane.player.wall();
      lane.gone.hidden = lane.player.covers(t);
      lane.stamp.textContent = `${lane.camera} · ${clock(w ?? t)}`;
    }
  }

  ctx.incident = { clock: sync, players, cameras: chosen }; // for tests and the curious
  sync.seek(at);
  const onKey = (e) => {
    if (e.target.closest("input, select, textarea, dialog") || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === " " && e.target.closest("button")) return; // the button's own click toggles
    const now = sync.now() ?? at;
    if (e.key === " ") (sync.playing ? sync.pause() : sync.play());
    else if (e.key === "ArrowLeft") sync.seek(now - (e.shiftKey ? 60 : 5));
    else if (e.key === "ArrowRight") sync.seek(now + (e.shiftKey ? 60 : 5));
    else return;
    e.preventDefault();
  };
  document.addEventListener("keydown", onKey);
  return () => {
    document.removeEventListener("keydown", onKey);
    sync.destroy();
    for (const p of players) p.destroy();
    delete ctx.incident;
  };
}
