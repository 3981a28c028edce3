// Recording timeline of one camera (#/replay/CAMERA?t=ISO&zoom=SECONDS): a day's recorded
// spans and gaps, its events as marks by severity, a player that jumps to any moment clicked,
// and exports of a dragged (or In/Out) range as MP4, keyframe-cut or exact.
// Keys: space play/pause, ←/→ 5 s (shift: 1 min), i/o range in/out, +/- zoom.
import { api } from "./api.js";
import { el, label, severity, toast } from "./format.js";
import { RecordingPlayer } from "./players.js";
import { TimeAxis, clock, dayStart, span, wallSpan } from "./timeaxis.js";
import { exportPanel } from "./exports.js";
import { findPanel } from "./find.js";

const DAY = 86400;
const ZOOMS = [["24 h", DAY], ["6 h", 21600], ["1 h", 3600], ["10 min", 600], ["1 min", 60]];

export const iso = (wall) => new Date(wall * 1000).toISOString();

/** A time from the address: ISO 8601 or epoch seconds; null if absent or unreadable. */
export function parseTime(text) {
  if (!text) return null;
  const n = Number(text);
  const wall = Number.isFinite(n) ? n : Date.parse(text) / 1000;
  return Number.isFinite(wall) ? wall : null;
}

function dateInput(wall) {
  const d = new Date(wall * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** Play/pause, ±10 s, speed and the wall clock: the bar under a player (or several). */
export function transport({ toggle, step, rate }) {
  const play = el("button", { type: "button", class: "primary play", id: "play", title: "Play/pause (space)" }, "▶");
  const speed = el("select", { id: "speed", title: "Speed" },
    [0.5, 1, 2, 4, 8].map((r) => el("option", { value: r, selected: r === 1 }, `${r}×`)));
  speed.onchange = () => rate(Number(speed.value));
  play.onclick = toggle;
  const readout = el("span", { class: "readout mono", id: "readout" }, "—");
  const bar = el("div", { class: "transport" },
    el("button", { type: "button", title: "Back 10 s", onclick: () => step(-10) }, "−10 s"),
    play,
    el("button", { type: "button", title: "Forward 10 s", onclick: () => step(10) }, "+10 s"),
    speed, readout);
  return {
    bar,
    show(wall, playing) {
      play.textContent = playing ? "❚❚" : "▶";
      readout.textContent = wall === null ? "—"
        : `${new Date(wall * 1000).toLocaleDateString([], { month: "short", day: "numeric" })} ${clock(wall)}`;
    },
  };
}

export async function replay(view, ctx, cameraParam) {
  const q = new URLSearchParams(location.hash.split("?")[1] || "");
  const cameras = (await api.get("/cameras").catch(() => [])).map((c) => c.id);
  const camera = cameraParam || cameras[0];
  if (camera && !cameras.includes(camera)) cameras.push(camera);
  document.title = "Replay · Vigil";
  if (!camera) {
    view.append(el("section", { class: "panel" }, el("h1", {}, "Replay"),
      el("p", { class: "empty" }, "No cameras are configured.")));
    return null;
  }
  let focus = parseTime(q.get("t")) ?? Date.now() / 1000 - 60;
  let zoom = Number(q.get("zoom")) || 3600;
  let day = dayStart(focus);
  let dayEnd = dayStart(day + DAY * 1.5); // the next midnight: 23 or 25 h away on a clock change
  let segments = 0;
  let range = { a: null, b: null };
  let alive = true;

  const video = el("video", { id: "replay-video", muted: true, autoplay: true, playsinline: true, preload: "auto" });
  const note = el("div", { class: "note", id: "replay-note", hidden: true });
  const stamp = el("div", { class: "stamp mono" });
  const player = new RecordingPlayer(video, { onError: (err) => say(err.message) });
  const say = (text) => { note.hidden = !text; note.textContent = text || ""; };

  const pick = el("select", { id: "replay-camera", title: "Camera" },
    cameras.map((c) => el("option", { value: c, selected: c === camera }, c)));
  pick.onchange = () => { location.hash = `#/replay/${encodeURIComponent(pick.value)}?t=${iso(focus)}&zoom=${zoom}`; };
  const date = el("input", { type: "date", id: "replay-day", value: dateInput(focus) });
  date.onchange = () => {
    const [y, m, d] = date.value.split("-").map(Number);
    if (y) goDay(new Date(y, m - 1, d, 12).getTime() / 1000);
  };
  const zooms = el("div", { class: "seg-buttons", id: "zoom" }, ZOOMS.map(([name, s]) =>
    el("button", { type: "button", dataset: { zoom: String(s) }, onclick: () => setZoom(s) }, name)));
  const incidentLink = el("a", { class: "button-link", id: "to-incident" }, "Incident replay");

  const controls = transport({
    toggle: () => (video.paused ? play() : video.pause()),
    step: (s) => seek((player.wall() ?? focus) + s),
    rate: (r) => { video.playbackRate = r; },
  });
  const axisBox = el("div", { class: "axes" });
  const overview = new TimeAxis(axisBox, { id: "overview", onSeek: (w) => seek(w) });
  overview.node.classList.add("overview");
  const axis = new TimeAxis(axisBox, {
    id: "timeline",
    onSeek: (w) => seek(w),
    onSelect: (a, b) => setRange(a, b),
  });
  const dayEvents = el("div", { class: "day-events", id: "day-events" });
  const exports = exportPanel(camera, () => range, {
    setIn: () => setRange(player.wall() ?? focus, range.b ?? (player.wall() ?? focus) + 60),
    setOut: () => setRange(range.a ?? (player.wall() ?? focus) - 60, player.wall() ?? focus),
  });
  const summary = el("p", { class: "muted", id: "replay-summary" });
  let found = null; // {label, spans} of the last search
  const finder = findPanel(camera, () => [day, dayEnd], (result) => { found = result; draw(); }, (w) => seek(w));

  view.append(el("section", { class: "panel replay", id: "replay" },
    el("div", { class: "head" },
      el("h1", {}, "Replay"), pick,
      el("div", { class: "day-nav" },
        el("button", { type: "button", title: "Previous day", onclick: () => goDay(day - DAY / 2) }, "‹"),
        date,
        el("button", { type: "button", title: "Next day", onclick: () => goDay(dayEnd + DAY / 2) }, "›")),
      zooms, incidentLink),
    el("div", { class: "replay-grid" },
      el("div", { class: "replay-main" },
        el("div", { class: "screen" }, video, stamp, note),
        controls.bar, axisBox, summary),
      el("aside", { class: "replay-side" },
        el("h2", {}, "Events this day"), dayEvents, finder.node, exports.node))));

  function windowOf(wall) {
    if (zoom >= DAY) return [day, dayEnd];
    const a = Math.min(Math.max(wall - zoom / 2, day), dayEnd - zoom);
    return [a, a + zoom];
  }

  let events = [];
  let times = new Map(); // event id -> {start, end}
  let spans = [];
  function draw() {
    const [a, b] = windowOf(focus);
    overview.setWindow(day, dayEnd);
    axis.setWindow(a, b);
    for (const x of [overview, axis]) {
      x.clear();
      x.lane({ spans, events, onEvent: (start) => seek(start) });
      if (found) x.lane({ spans: found.spans, caption: x === axis ? `seen: ${found.label}` : null }).classList.add("found");
    }
    overview.setSelection(a, b);
    axis.setSelection(range.a, range.b);
    for (const btn of zooms.children) btn.classList.toggle("on", Number(btn.dataset.zoom) === zoom);
    incidentLink.href = `#/incident?t=${iso(focus)}&c=${encodeURIComponent(camera)}`;
  }

  function setZoom(s) {
    zoom = s;
    draw();
    remember();
  }

  function setRange(a, b) {
    range = { a: Math.max(day, Math.min(a, b)), b: Math.min(dayEnd, Math.max(a, b)) };
    axis.setSelection(range.a, range.b);
    exports.update();
  }

  function remember() {
    history.replaceState(null, "", `#/replay/${encodeURIComponent(camera)}?t=${iso(focus)}&zoom=${zoom}`);
  }

  function play() {
    video.play().catch(() => {});
  }

  /** Jump to ``wall``: another day loads that day; a gap plays from the next recording. */
  async function seek(wall) {
    if (wall < day || wall >= dayEnd) return goDay(wall);
    const landed = player.seek(wall);
    if (landed === null) {
      say(segments ? `Nothing recorded after ${clock(wall)} this day.` : "");
      return;
    }
    say("");
    if (landed - wall > 0.5) toast(`Not recorded at ${clock(wall)}; playing from ${clock(landed)}`);
    focus = landed;
    draw();
    remember();
    play();
  }

  async function goDay(wall) {
    focus = wall;
    day = dayStart(wall);
    dayEnd = dayStart(day + DAY * 1.5);
    date.value = dateInput(wall);
    range = { a: null, b: null };
    found = null;
    finder.clear();
    await loadDay().catch((err) => say(err.message));
  }

  async function loadDay() {
    say("Loading…");
    const bounds = { start: iso(day), end: iso(dayEnd) };
    const [recordings, page] = await Promise.all([
      api.get(`/cameras/${encodeURIComponent(camera)}/recordings`, bounds),
      api.get("/events", { camera, since: bounds.start, until: bounds.end, limit: 500 }),
    ]);
    if (!alive) return;
    segments = recordings.segments.length;
    spans = recordings.spans.map((s) => wallSpan(s));
    events = page.events;
    times = new Map(events.map((e) => [e.id, wallSpan(e, "start_time", "end_time")]));
    const recorded = spans.reduce((sum, s) => sum + (s.end - s.start), 0);
    summary.textContent = segments
      ? `${span(recorded)} recorded in ${spans.length} span${spans.length === 1 ? "" : "s"} (${segments} segments); ${events.length}${page.next_cursor ? "+" : ""} event${events.length === 1 ? "" : "s"}. Click the timeline to play from there; drag to pick a range to export.`
      : "Nothing recorded on this day.";
    dayEvents.replaceChildren(...(events.length ? events.slice().reverse().map((e) => {
      const start = Date.parse(e.start_time) / 1000;
      return el("button", { type: "button", class: "day-event", dataset: { id: e.id, start: String(start) }, onclick: () => seek(start) },
        e.snapshot_url ? el("img", { src: e.snapshot_url, alt: "", loading: "lazy" }) : null,
        el("span", { class: "mono" }, clock(start)), severity(e.severity),
        el("b", {}, label(e.rule)), e.zone ? el("span", { class: "muted" }, e.zone) : null);
    }) : [el("p", { class: "muted" }, "No events.")]));
    if (spans.length && (focus < spans[0].start || focus > spans[spans.length - 1].end)) {
      focus = focus > spans[spans.length - 1].end ? spans[spans.length - 1].end - 30 : spans[0].start;
    }
    draw();
    remember();
    if (!segments) {
      player.destroyHls();
      player.map = [];
      say("Nothing recorded on this day.");
      return;
    }
    await player.load(recordings, focus);
    say("");
    seek(Math.max(focus, spans[0].start));
  }

  let raf = 0;
  const frame = () => {
    if (!alive) return;
    const wall = player.wall();
    axis.setPlayhead(wall);
    overview.setPlayhead(wall);
    controls.show(wall, !video.paused);
    stamp.textContent = wall === null ? camera : `${camera} · ${clock(wall)}`;
    if (wall !== null && !video.paused && (wall < axis.start || wall > axis.end) && zoom < DAY) {
      focus = wall + zoom * 0.4; // page on as it plays
      draw();
    }
    for (const b of dayEvents.querySelectorAll(".day-event")) {
      const { start, end } = times.get(b.dataset.id);
      b.classList.toggle("now", wall !== null && wall >= start - 1 && wall <= end + 1);
    }
    raf = requestAnimationFrame(frame);
  };
  const onKey = (e) => {
    if (e.target.closest("input, select, textarea, dialog") || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === " " && e.target.closest("button")) return; // the button's own click toggles
    const now = player.wall() ?? focus;
    if (e.key === " ") (video.paused ? play() : video.pause());
    else if (e.key === "ArrowLeft") seek(now - (e.shiftKey ? 60 : 5));
    else if (e.key === "ArrowRight") seek(now + (e.shiftKey ? 60 : 5));
    else if (e.key === "i") setRange(now, range.b ?? now + 60);
    else if (e.key === "o") setRange(range.a ?? now - 60, now);
    else if (e.key === "+" || e.key === "-") {
      const i = ZOOMS.findIndex(([, s]) => s === zoom);
      setZoom(ZOOMS[Math.max(0, Math.min(ZOOMS.length - 1, i + (e.key === "+" ? 1 : -1)))][1]);
    } else return;
    e.preventDefault();
  };
  document.addEventListener("keydown", onKey);
  await loadDay();
  raf = requestAnimationFrame(frame);
  return () => {
    alive = false;
    cancelAnimationFrame(raf);
    document.removeEventListener("keydown", onKey);
    exports.stop();
    player.destroy();
  };
}
