// One event: the clip with the detection boxes drawn over the playing video (from the stored
// score timeline, not burned in), the snapshot, the confidence over time, the model card and
// thresholds, the audit trail and the hazard-loop buttons. Keys: j/k next/previous in the
// list it was opened from, a acknowledge, d dismiss.
import { api } from "./api.js";
import { el, label, svg, when, duration, severity, status } from "./format.js";
import { actionBar, runAction } from "./actions.js";
import { loopState } from "./loop.js";

/** The box to draw at source time ``pts``: interpolated between the two nearest analysed
 * frames, or none when the nearest is further away than the analysis spacing allows. */
export function boxAt(timeline, pts, spacing) {
  if (!timeline.length) return null;
  let hi = timeline.findIndex((p) => p.pts >= pts);
  if (hi === -1) hi = timeline.length - 1;
  const lo = Math.max(0, hi - 1);
  const a = timeline[lo];
  const b = timeline[hi];
  if (pts >= a.pts && pts <= b.pts && b.pts - a.pts <= spacing * 2.5 && b !== a) {
    const t = (pts - a.pts) / (b.pts - a.pts);
    return { bbox: a.bbox.map((v, i) => v + (b.bbox[i] - v) * t), confidence: a.confidence + (b.confidence - a.confidence) * t };
  }
  const near = Math.abs(a.pts - pts) < Math.abs(b.pts - pts) ? a : b;
  return Math.abs(near.pts - pts) <= spacing ? near : null;
}

function spacingOf(timeline) {
  const gaps = timeline.slice(1).map((p, i) => p.pts - timeline[i].pts).filter((g) => g > 0).sort((x, y) => x - y);
  return gaps.length ? gaps[Math.floor(gaps.length / 2)] : 0.5;
}

function overlay(video, canvas, e) {
  const spacing = spacingOf(e.timeline);
  const start = e.clip_start_pts ?? 0;
  // Boxes are in pixels of the analysed frame, which the snapshot is: a camera that detects on
  // a substream (detect_source) has its clip from the larger main stream.
  const frame = { w: 0, h: 0 };
  if (e.snapshot_url) {
    const still = new Image();
    still.onload = () => Object.assign(frame, { w: still.naturalWidth, h: still.naturalHeight });
    still.src = e.snapshot_url;
  }
  const draw = () => {
    const w = video.clientWidth;
    const h = video.clientHeight;
    const ratio = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(w * ratio)) canvas.width = Math.round(w * ratio);
    if (canvas.height !== Math.round(h * ratio)) canvas.height = Math.round(h * ratio);
    const g = canvas.getContext("2d");
    g.clearRect(0, 0, canvas.width, canvas.height);
    const hit = video.videoWidth ? boxAt(e.timeline, start + video.currentTime, spacing) : null;
    window.vigilOverlay = { pts: start + video.currentTime, drawn: Boolean(hit) };
    if (!hit) return;
    const sx = canvas.width / (frame.w || video.videoWidth);
    const sy = canvas.height / (frame.h || video.videoHeight);
    const [x1, y1, x2, y2] = hit.bbox;
    const colour = e.severity === "critical" ? "#ff4d4f" : "#ffb020";
    g.lineWidth = 3 * ratio;
    g.strokeStyle = colour;
    g.strokeRect(x1 * sx, y1 * sy, (x2 - x1) * sx, (y2 - y1) * sy);
    const text = `${e.label} ${Math.round(hit.confidence * 100)}%`;
    g.font = `${12 * ratio}px system-ui, sans-serif`;
    const tw = g.measureText(text).width + 8 * ratio;
    const ty = Math.max(0, y1 * sy - 18 * ratio);
    g.fillStyle = colour;
    g.fillRect(x1 * sx - 1.5 * ratio, ty, tw, 18 * ratio);
    g.fillStyle = "#111";
    g.fillText(text, x1 * sx + 4 * ratio, ty + 13 * ratio);
  };
  let alive = true;
  const loop = () => {
    if (!alive) return;
    draw();
    if (video.requestVideoFrameCallback && !video.paused) video.requestVideoFrameCallback(loop);
    else requestAnimationFrame(loop);
  };
  loop();
  video.addEventListener("seeked", draw);
  return () => { alive = false; };
}

function chart(e, video) {
  const W = 600; const H = 140; const P = 24;
  const tl = e.timeline;
  const t0 = e.clip_start_pts ?? (tl[0]?.pts ?? 0);
  const t1 = Math.max(e.clip_end_pts ?? 0, tl.length ? tl[tl.length - 1].pts : t0 + 1, t0 + 0.1);
  const x = (pts) => P + ((pts - t0) / (t1 - t0)) * (W - 2 * P);
  const y = (c) => H - P - c * (H - 2 * P);
  const threshold = e.model?.threshold;
  const cursor = svg("line", { x1: P, x2: P, y1: 6, y2: H - P, stroke: "#3d8bfd", "stroke-width": 1.5 });
  const node = svg("svg", { class: "chart", id: "confidence", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "confidence over time" },
    [0, 0.5, 1].map((c) => [svg("line", { x1: P, x2: W - P, y1: y(c), y2: y(c), stroke: "#27303d" }),
      svg("text", { x: 2, y: y(c) + 3 }, c.toFixed(1))]),
    threshold != null ? svg("line", { x1: P, x2: W - P, y1: y(threshold), y2: y(threshold), stroke: "#e8c547", "stroke-dasharray": "4 4" }) : null,
    svg("polyline", { points: tl.map((p) => `${x(p.pts).toFixed(1)},${y(p.confidence).toFixed(1)}`).join(" "), fill: "none", stroke: "#ff9f1a", "stroke-width": 2 }),
    tl.map((p) => svg("circle", { cx: x(p.pts), cy: y(p.confidence), r: 2.2, fill: "#ff9f1a" })),
    svg("text", { x: P, y: H - 6 }, `${t0.toFixed(1)} s`),
    svg("text", { x: W - P - 30, y: H - 6 }, `${t1.toFixed(1)} s`),
    cursor);
  if (video) {
    video.addEventListener("timeupdate", () => {
      const cx = x(t0 + video.currentTime);
      cursor.setAttribute("x1", cx);
      cursor.setAttribute("x2", cx);
    });
    node.addEventListener("click", (ev) => {
      const r = node.getBoundingClientRect();
      const pts = t0 + ((ev.clientX - r.left) / r.width * W - P) / (W - 2 * P) * (t1 - t0);
      video.currentTime = Math.max(0, pts - (e.clip_start_pts ?? 0));
    });
  }
  return node;
}

function facts(pairs) {
  return el("dl", { class: "facts" }, pairs.filter(([, v]) => v !== null && v !== undefined && v !== "")
    .map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

function modelCard(m) {
  if (!m) return el("p", { class: "muted" }, "Stored before model cards were kept.");
  return [facts([["Card", m.card], ["Weights", el("span", { class: "mono" }, m.version)],
    ["Threshold", m.threshold != null ? m.threshold.toFixed(2) : "—"]]),
  m.thresholds ? el("p", { class: "mono muted" }, Object.entries(m.thresholds).map(([k, v]) => `${k} ≥ ${v}`).join(" · ")) : null];
}

function auditTrail(audit) {
  if (!audit.length) return el("p", { class: "muted", id: "audit" }, "No one has acted on it yet.");
  return el("ol", { class: "audit", id: "audit" }, audit.map((a) => el("li", {},
    el("b", {}, `${a.from_status} → ${a.to_status}`), ` by ${a.actor} · ${when(a.at)}`,
    a.note ? el("div", { class: "muted" }, a.note) : null)));
}

export async function eventPage(view, ctx, id) {
  const e = await api.get(`/events/${encodeURIComponent(id)}`);
  const loop = await loopState(e); // null until the server has the hazard loop
  const reload = () => window.dispatchEvent(new HashChangeEvent("hashchange")); // re-render, cleanly
  let video = null;
  let stop = () => {};
  const player = el("div", { class: "player" });
  if (e.clip_url) {
    video = el("video", { id: "clip", src: e.clip_url, controls: true, muted: true, playsinline: true, preload: "auto" });
    const canvas = el("canvas", { id: "boxes" });
    player.append(video, canvas);
    stop = overlay(video, canvas, e);
    video.addEventListener("loadedmetadata", () => {
      video.currentTime = Math.max(0, e.peak_pts - (e.clip_start_pts ?? 0)); // open at the peak
    }, { once: true });
  } else {
    player.append(el("p", { class: "empty" }, e.state === "open" ? "The clip is cut when the event ends." : "No clip."));
  }
  const list = ctx.list || [];
  const at = list.findIndex((x) => x.id === e.id);
  const go = (step) => {
    const next = list[at + step];
    if (next) location.hash = `#/events/${encodeURIComponent(next.id)}`;
  };
  const bar = actionBar(e, ctx, reload, loop);
  view.append(el("div", { class: "grid event", id: "event", dataset: { id: e.id, status: e.status } },
    el("div", { class: "grid" },
      el("section", { class: "panel" },
        el("h1", {}, `${label(e.rule)} · ${e.camera}`, " ", severity(e.severity), " ", status(e.status)),
        player,
        el("p", { class: "muted", id: "replay-links" }, "Before and after: ",
          el("a", { href: `#/replay/${encodeURIComponent(e.camera)}?t=${encodeURIComponent(e.start_time)}&zoom=600` }, "the camera's recording"),
          " · ", el("a", { href: `#/incident?t=${encodeURIComponent(e.start_time)}&c=${encodeURIComponent(e.camera)}` }, "incident replay"))),
      el("section", { class: "panel" }, el("h2", {}, "Confidence over time"), chart(e, video),
        el("p", { class: "muted" }, "Dashed: the threshold. Click to seek."))),
    el("div", { class: "grid" },
      bar || loop ? el("section", { class: "panel" }, el("h2", {}, "Hazard loop"), bar,
        loop ? facts([["Assignee", loop.assignee], ["Due", loop.due && when(loop.due)],
          ["Overdue", loop.overdue ? el("b", { style: "color:var(--bad)" }, "yes") : null],
          ["Reported by", loop.reporter], ["Report", loop.description]]) : null,
        loop && loop.after.length ? el("div", { class: "pair" },
          el("figure", {}, el("img", { src: loop.before_url || e.snapshot_url, alt: "before" }), el("figcaption", {}, "Before")),
          el("figure", {}, el("img", { src: loop.after[loop.after.length - 1].url, alt: "after" }), el("figcaption", {}, "After"))) : null) : null,
      el("section", { class: "panel" }, el("h2", {}, "What happened"), facts([
        ["When", when(e.start_time)],
        ["Lasted", duration((new Date(e.end_time) - new Date(e.start_time)) / 1000)],
        ["Label", e.label], ["Zone", e.zone], ["Subject", e.subject],
        ["Peak", `${Math.round(e.peak_confidence * 100)}% at ${e.peak_pts.toFixed(1)} s`],
        ["State", e.state], ["Source", e.source && el("span", { class: "mono" }, e.source)],
        ["Clip sha256", e.clip_sha256 && el("span", { class: "mono" }, e.clip_sha256.slice(0, 16) + "…")],
      ])),
      e.snapshot_url ? el("section", { class: "panel" }, el("h2", {}, "Snapshot at peak"),
        el("a", { href: e.snapshot_url, target: "_blank" }, el("img", { src: e.snapshot_url, alt: "snapshot", style: "width:100%;border-radius:4px" }))) : null,
      el("section", { class: "panel" }, el("h2", {}, "Model"), modelCard(e.model)),
      el("section", { class: "panel" }, el("h2", {}, "Audit trail"), auditTrail(e.audit)),
      el("p", { class: "keys" }, el("kbd", {}, "j"), "/", el("kbd", {}, "k"), " next/previous · ",
        el("kbd", {}, "a"), " acknowledge · ", el("kbd", {}, "d"), " dismiss · ", el("a", { href: "#/events" }, "all events")))));
  const onKey = (ev) => {
    if (ev.target.closest("input, select, textarea, dialog") || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key === "j") go(1);
    else if (ev.key === "k") go(-1);
    else if (ev.key === "a") runAction(e, "acknowledge", ctx, reload, loop);
    else if (ev.key === "d") runAction(e, "dismiss", ctx, reload, loop);
    else return;
    ev.preventDefault();
  };
  document.addEventListener("keydown", onKey);
  document.title = `${label(e.rule)} · ${e.camera} · Vigil`;
  return () => { stop(); document.removeEventListener("keydown", onKey); };
}
