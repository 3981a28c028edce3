// A time axis for the replay pages: a window of wall time [start, end) (epoch seconds) drawn
// across a track, with ticks, recorded spans, event marks, a playhead and a selection.
//   const axis = new TimeAxis(track, {onSeek, onSelect});  axis.setWindow(t0, t1);
//   axis.lane(spans, events)  // one lane's content; axis.setPlayhead(wall)
import { el, label } from "./format.js";

const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600];

export function clock(wall, seconds = true) {
  return new Date(wall * 1000).toLocaleTimeString([], {
    hour: "2-digit", minute: "2-digit", second: seconds ? "2-digit" : undefined, hour12: false,
  });
}

export function span(seconds) {
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min${seconds % 60 >= 1 ? ` ${Math.round(seconds % 60)} s` : ""}`;
  const h = Math.floor(seconds / 3600);
  const m = Math.round((seconds % 3600) / 60);
  return `${h} h${m ? ` ${m} min` : ""}`;
}

/** Local midnight of the day ``wall`` falls on. */
export function dayStart(wall) {
  const d = new Date(wall * 1000);
  return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime() / 1000;
}

/** ``{start, end}`` (epoch s) of an API span or event. */
export function wallSpan(x, from = "start", to = "end") {
  return { start: Date.parse(x[from]) / 1000, end: Date.parse(x[to]) / 1000 };
}

export class TimeAxis {
  /** ``root``: an element to fill; ``onSeek(wall)`` on a click, ``onSelect(a, b)`` on a drag. */
  constructor(root, { onSeek = () => {}, onSelect = null, id = "axis" } = {}) {
    this.start = 0;
    this.end = 1;
    this.onSeek = onSeek;
    this.onSelect = onSelect;
    this.ruler = el("div", { class: "ruler" });
    this.lanes = el("div", { class: "lanes" });
    this.playhead = el("div", { class: "playhead", hidden: true });
    this.selection = el("div", { class: "selection", hidden: true });
    this.hover = el("div", { class: "hover", hidden: true });
    this.body = el("div", { class: "axis-body" }, this.lanes, this.selection, this.playhead, this.hover);
    this.node = el("div", { class: "axis", id }, this.ruler, this.body);
    root.append(this.node);
    this.drag();
    new ResizeObserver(() => this.ticks()).observe(this.node); // fewer ticks on a narrow screen
  }

  setWindow(start, end) {
    this.start = start;
    this.end = end;
    Object.assign(this.node.dataset, { start: String(start), end: String(end) });
    this.ticks();
  }

  x(wall) {
    return ((wall - this.start) / (this.end - this.start)) * 100;
  }

  wallAt(clientX) {
    const r = this.body.getBoundingClientRect();
    const f = Math.min(1, Math.max(0, (clientX - r.left) / r.width));
    return this.start + f * (this.end - this.start);
  }

  place(node, a, b) {
    const left = Math.max(0, this.x(a));
    const right = Math.min(100, this.x(b));
    node.style.left = `${left}%`;
    node.style.width = `${Math.max(0, right - left)}%`;
    return right > 0 && left < 100;
  }

  ticks() {
    const range = this.end - this.start;
    const most = Math.max(2, Math.min(12, Math.floor((this.node.clientWidth || 1000) / 80)));
    const step = STEPS.find((s) => range / s <= most) || 21600;
    // ticks on round local times: local seconds are epoch seconds less the zone's offset
    const offset = new Date(this.start * 1000).getTimezoneOffset() * 60;
    const first = Math.ceil((this.start - offset) / step) * step + offset;
    const marks = [];
    for (let t = first; t <= this.end; t += step) {
      marks.push(el("span", { class: "tick", style: `left:${this.x(t)}%` }, clock(t, step < 60)));
    }
    this.ruler.replaceChildren(...marks);
  }

  /** One lane: recorded spans (``[{start, end}]``), event marks (API events), a caption. */
  lane({ spans = [], events = [], caption = null, onEvent = null, id = null }) {
    const track = el("div", { class: "track" });
    for (const s of spans) {
      const bar = el("div", { class: "rec", title: `recorded ${clock(s.start)}–${clock(s.end)}` });
      if (this.place(bar, s.start, s.end)) track.append(bar);
    }
    for (const e of events) {
      const { start, end } = wallSpan(e, "start_time", "end_time");
      const mark = el("button", {
        type: "button", class: `mark ${e.severity}`, dataset: { id: e.id, start: String(start) },
        title: `${label(e.rule)} · ${e.severity} · ${clock(start)}${e.zone ? ` · ${e.zone}` : ""}`,
      });
      if (!this.place(mark, start, Math.max(end, start))) continue;
      // A press on a mark is a click on it unless the pointer moves: then it selects a range
      // like anywhere on the track (see drag()). Keys (Enter, Space) click it too.
      mark.activate = () => (onEvent || this.onSeek)(start, e);
      mark.addEventListener("click", (ev) => {
        ev.stopPropagation();
        if (ev.detail === 0) mark.activate();  // from the keyboard; the pointer's is in drag()
      });
      track.append(mark);
    }
    const row = el("div", { class: "lane", dataset: id ? { camera: id } : {} },
      caption ? el("div", { class: "caption" }, caption) : null, track);
    this.lanes.append(row);
    return row;
  }

  clear() {
    this.lanes.replaceChildren();
  }

  setPlayhead(wall) {
    const visible = wall !== null && wall >= this.start && wall <= this.end;
    this.playhead.hidden = !visible;
    if (visible) this.playhead.style.left = `${this.x(wall)}%`;
  }

  setSelection(a, b) {
    this.selection.hidden = a === null;
    if (a !== null) this.place(this.selection, Math.min(a, b), Math.max(a, b));
  }

  drag() {
    let down = null;
    this.body.addEventListener("pointerdown", (ev) => {
      if (ev.button !== 0) return;
      const mark = ev.target.closest(".mark");
      down = { x: ev.clientX, wall: this.wallAt(ev.clientX), moved: false, mark };
      this.body.setPointerCapture(ev.pointerId);
    });
    this.body.addEventListener("pointermove", (ev) => {
      const wall = this.wallAt(ev.clientX);
      this.hover.hidden = false;
      this.hover.style.left = `${this.x(wall)}%`;
      this.hover.textContent = clock(wall);
      if (!down || !this.onSelect) return;
      if (Math.abs(ev.clientX - down.x) > 5) down.moved = true;
      if (down.moved) this.setSelection(down.wall, wall);
    });
    this.body.addEventListener("pointerleave", () => { this.hover.hidden = true; });
    this.body.addEventListener("pointerup", (ev) => {
      if (!down) return;
      const wall = this.wallAt(ev.clientX);
      if (down.moved && this.onSelect) this.onSelect(Math.min(down.wall, wall), Math.max(down.wall, wall));
      else if (down.mark) down.mark.activate();
      else this.onSeek(wall);
      down = null;
    });
  }
}
