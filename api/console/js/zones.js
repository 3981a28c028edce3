// The zones editor: a camera's newest frame with its zones drawn over it in the frame's own
// pixels (an SVG whose viewBox is the frame). Click to add vertices, click the first one (or
// press Enter) to close, drag a vertex or a whole zone to move it, Alt-click a vertex to remove
// it; name, kind and delete in the list. Save replaces the camera's zones (PUT); the running
// worker applies them within seconds.
import { api } from "./api.js";
import { el, svg, toast, when } from "./format.js";

export const KINDS = [
  ["restricted", "Restricted", "#ff4d4f"],
  ["helmet-required", "Helmet required", "#f5b400"],
  ["work-at-height", "Work at height", "#5cc8ff"],
  ["post", "Post", "#2ecc71"],
];
const COLOUR = Object.fromEntries(KINDS.map(([k, , c]) => [k, c]));
const NO_FRAME = [1920, 1080]; // the stage without any picture of the camera

/** A name not yet used: "zone-1", "zone-2", … */
export function freshName(zones, stem = "zone") {
  const used = new Set(zones.map((z) => z.name));
  let i = zones.length + 1;
  while (used.has(`${stem}-${i}`)) i += 1;
  return `${stem}-${i}`;
}

/** The point (frame pixels, rounded, inside the frame) under a pointer event. */
function framePoint(stage, event, [w, h]) {
  const pt = stage.createSVGPoint();
  pt.x = event.clientX;
  pt.y = event.clientY;
  const p = pt.matrixTransform(stage.getScreenCTM().inverse());
  return [Math.min(w, Math.max(0, Math.round(p.x))), Math.min(h, Math.max(0, Math.round(p.y)))];
}

function centroid(points) {
  const n = points.length;
  return [points.reduce((s, p) => s + p[0], 0) / n, points.reduce((s, p) => s + p[1], 0) / n];
}

async function loadPicture(img, camera) {
  const base = `/api/v1/cameras/${encodeURIComponent(camera)}`;
  for (const what of ["frame", "snapshot"]) { // the newest frame; else the newest event's
    const ok = await new Promise((resolve) => {
      img.onload = () => resolve(true);
      img.onerror = () => resolve(false);
      img.src = `${base}/${what}?t=${Date.now()}`;
    });
    if (ok) return [img.naturalWidth, img.naturalHeight, what];
  }
  img.removeAttribute("src");
  return null;
}

export async function zones(view, ctx, wanted) {
  const cameras = await api.get("/cameras");
  const state = {
    camera: null, zones: [], revision: 0, size: NO_FRAME, selected: -1, drawing: null,
    dirty: false, kinds: {},
  };
  const pick = el("select", { id: "z-camera", "aria-label": "Camera" },
    cameras.map((c) => el("option", { value: c.id, selected: c.id === wanted }, c.name || c.id)));
  const rev = el("span", { id: "z-rev", class: "muted" });
  const addButton = el("button", { id: "z-new", type: "button" }, "+ New zone");
  const saveButton = el("button", { id: "z-save", type: "button", class: "primary", disabled: true }, "Save");
  const revertButton = el("button", { id: "z-revert", type: "button", class: "ghost", disabled: true }, "Revert");
  const error = el("p", { class: "error", id: "z-error" });
  const img = el("img", { alt: "", draggable: "false" });
  const stage = svg("svg", { id: "z-stage", class: "z-stage", preserveAspectRatio: "none" });
  const blank = el("div", { class: "z-blank", hidden: true });
  const hint = el("span", { id: "z-hint" });
  const source = el("span", { id: "z-source" });
  const list = el("div", { id: "z-list", class: "z-list" });
  const board = el("div", { class: "z-board", id: "z-board" }, img, blank, stage);

  view.append(el("section", { class: "panel", id: "zones" },
    el("div", { class: "head" }, el("h1", {}, "Zones"), pick, rev, revertButton, saveButton),
    cameras.length ? el("div", { class: "z-grid" },
      el("div", {}, board, el("p", { class: "z-hint muted" }, hint, source)),
      el("aside", { class: "z-side" },
        el("div", { class: "z-side-head" }, el("h2", {}, "Zones on this camera"), addButton),
        list, error,
        el("p", { class: "keys" }, "Click to add points · ", el("kbd", {}, "Enter"), " or the first point closes · ",
          el("kbd", {}, "Esc"), " cancels · drag to move · ", el("kbd", {}, "Alt"), "-click removes a point")))
      : el("p", { class: "empty" }, "No camera has reported yet: start the worker (vigil run).")));
  if (!cameras.length) return null;

  const scale = () => state.size[0] / Math.max(1, stage.clientWidth || board.clientWidth || 1);

  function setDirty(dirty) {
    state.dirty = dirty;
    saveButton.disabled = !dirty || state.drawing !== null;
    revertButton.disabled = !dirty;
    saveButton.textContent = dirty ? "Save" : "Saved";
  }

  function showRevision(body) {
    rev.textContent = body.source === "saved"
      ? `revision ${body.revision} · ${body.saved_by} · ${when(body.saved_at)}`
      : "from the site file";
  }

  function draw() {
    const k = scale();
    const r = 6 * k;
    const [w, h] = state.size;
    stage.setAttribute("viewBox", `0 0 ${w} ${h}`);
    const shapes = state.zones.map((z, i) => {
      const colour = COLOUR[z.kind] || "#fff";
      const on = i === state.selected;
      const points = z.polygon.map((p) => p.join(",")).join(" ");
      const [cx, cy] = centroid(z.polygon);
      const shape = svg("g", { class: `z-zone${on ? " on" : ""}`, "data-name": z.name },
        svg("polygon", { points, fill: colour, "fill-opacity": on ? 0.22 : 0.14, stroke: colour,
          "stroke-width": on ? 3 : 2, "vector-effect": "non-scaling-stroke", "data-index": i }),
        svg("text", { x: cx, y: cy, "font-size": 14 * k, "text-anchor": "middle", class: "z-label" }, z.name));
      if (on) {
        z.polygon.forEach(([x, y], j) => shape.append(svg("circle", {
          cx: x, cy: y, r, class: "z-handle", "data-index": i, "data-vertex": j,
          "stroke-width": 2, "vector-effect": "non-scaling-stroke",
        })));
      }
      return shape;
    });
    if (state.drawing) {
      const pts = state.drawing.points;
      const colour = COLOUR[state.drawing.kind];
      const line = [...pts, ...(state.drawing.cursor ? [state.drawing.cursor] : [])];
      shapes.push(svg("g", { class: "z-drawing" },
        svg("polyline", { points: line.map((p) => p.join(",")).join(" "), fill: colour, "fill-opacity": 0.12,
          stroke: colour, "stroke-width": 2, "stroke-dasharray": "6 4", "vector-effect": "non-scaling-stroke" }),
        pts.map(([x, y], j) => svg("circle", { cx: x, cy: y, r: j === 0 && pts.length >= 3 ? r * 1.6 : r,
          class: j === 0 ? "z-handle z-first" : "z-handle", "stroke-width": 2, "vector-effect": "non-scaling-stroke" }))));
    }
    stage.replaceChildren(...shapes);
    hint.textContent = state.drawing
      ? (state.drawing.points.length >= 3 ? "Click the first point or press Enter to close the zone."
        : `Click on the picture to add points (${state.drawing.points.length} so far, 3 at least).`)
      : state.zones.length ? "Select a zone to move its points; + New zone to draw another." : "No zones: + New zone to draw one.";
  }

  function row(z, i) {
    const name = el("input", { class: "z-name", value: z.name, "aria-label": "Zone name", maxlength: 128 });
    name.oninput = () => { z.name = name.value.trim(); setDirty(true); draw(); };
    const kind = el("select", { class: "z-kind", "aria-label": "Kind" },
      KINDS.map(([k, t]) => el("option", { value: k, selected: k === z.kind }, t)));
    kind.onchange = () => { z.kind = kind.value; setDirty(true); renderList(); draw(); };
    const remove = el("button", { type: "button", class: "danger z-delete", title: "Delete this zone" }, "Delete");
    remove.onclick = (e) => {
      e.stopPropagation();
      state.zones.splice(i, 1);
      state.selected = -1;
      setDirty(true);
      renderList();
      draw();
    };
    const rules = (state.kinds[z.kind] || []).join(", ");
    const node = el("div", { class: `z-row${i === state.selected ? " on" : ""}`, dataset: { name: z.name } },
      el("span", { class: "z-swatch", style: `background:${COLOUR[z.kind]}` }),
      el("div", { class: "z-fields" }, name, kind, remove,
        el("span", { class: "muted z-meta" }, `${z.polygon.length} points${rules ? ` · ${rules}` : ""}`)));
    node.onclick = (e) => {
      if (e.target.closest("input, select, button")) return;
      state.selected = i;
      renderList();
      draw();
    };
    return node;
  }

  function renderList() {
    list.replaceChildren(...(state.zones.length ? state.zones.map(row)
      : [el("p", { class: "muted" }, "None yet.")]));
  }

  function closeDrawing() {
    const d = state.drawing;
    if (!d || d.points.length < 3) return;
    state.zones.push({ name: freshName(state.zones, d.kind === "post" ? "post" : "zone"), kind: d.kind, polygon: d.points });
    state.selected = state.zones.length - 1;
    state.drawing = null;
    board.classList.remove("drawing");
    setDirty(true);
    renderList();
    draw();
    const input = list.querySelectorAll(".z-name")[state.selected];
    if (input) input.select();
  }

  function startDrawing() {
    const last = state.zones[state.selected];
    state.drawing = { points: [], cursor: null, kind: last ? last.kind : "restricted" };
    state.selected = -1;
    board.classList.add("drawing");
    saveButton.disabled = true;
    renderList();
    draw();
  }

  let drag = null;
  stage.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    const p = framePoint(stage, e, state.size);
    if (state.drawing) {
      const first = state.drawing.points[0];
      if (first && state.drawing.points.length >= 3 && Math.hypot(p[0] - first[0], p[1] - first[1]) <= 12 * scale()) {
        closeDrawing();
      } else {
        state.drawing.points.push(p);
        draw();
      }
      return;
    }
    const target = e.target;
    const i = Number(target.dataset && target.dataset.index);
    if (target.classList.contains("z-handle") && e.altKey) {
      const z = state.zones[i];
      if (z.polygon.length > 3) {
        z.polygon.splice(Number(target.dataset.vertex), 1);
        setDirty(true);
        renderList();
        draw();
      }
      return;
    }
    if (target.classList.contains("z-handle")) {
      drag = { index: i, vertex: Number(target.dataset.vertex), from: p };
    } else if (target.tagName === "polygon") {
      state.selected = i;
      drag = { index: i, vertex: null, from: p, start: state.zones[i].polygon.map((q) => [...q]) };
      renderList();
      draw();
    } else {
      state.selected = -1;
      renderList();
      draw();
      return;
    }
    stage.setPointerCapture(e.pointerId);
    e.preventDefault();
  });
  stage.addEventListener("pointermove", (e) => {
    const p = framePoint(stage, e, state.size);
    if (state.drawing) {
      state.drawing.cursor = p;
      draw();
      return;
    }
    if (!drag) return;
    const z = state.zones[drag.index];
    if (drag.vertex !== null) {
      z.polygon[drag.vertex] = p;
    } else {
      const [w, h] = state.size;
      const dx = p[0] - drag.from[0]; const dy = p[1] - drag.from[1];
      z.polygon = drag.start.map(([x, y]) => [Math.min(w, Math.max(0, x + dx)), Math.min(h, Math.max(0, y + dy))]);
    }
    drag.moved = true;
    draw();
  });
  const endDrag = () => {
    if (drag && drag.moved) { setDirty(true); renderList(); }
    drag = null;
  };
  stage.addEventListener("pointerup", endDrag);
  stage.addEventListener("pointercancel", endDrag);
  stage.addEventListener("dblclick", (e) => { if (state.drawing) { e.preventDefault(); closeDrawing(); } });
  const onKey = (e) => {
    if (!state.drawing || e.target.closest?.("input, select, textarea")) return;
    if (e.key === "Enter") closeDrawing();
    if (e.key === "Escape") { state.drawing = null; board.classList.remove("drawing"); setDirty(state.dirty); draw(); }
  };
  document.addEventListener("keydown", onKey);
  // Handles keep their size on screen: redrawn once the board's width settles (in the next
  // frame, so a redraw that moves the layout never re-enters the observer).
  let drawnWidth = 0;
  const resize = new ResizeObserver(() => requestAnimationFrame(() => {
    if (board.clientWidth !== drawnWidth) { drawnWidth = board.clientWidth; draw(); }
  }));
  resize.observe(board);
  const leave = (e) => { if (state.dirty) { e.preventDefault(); e.returnValue = ""; } };
  window.addEventListener("beforeunload", leave);

  async function load(camera) {
    state.camera = camera;
    error.textContent = "";
    board.dataset.ready = "";
    const [body, picture] = await Promise.all([
      api.get(`/cameras/${encodeURIComponent(camera)}/zones`), loadPicture(img, camera),
    ]);
    state.zones = body.zones.map((z) => ({ ...z, polygon: z.polygon.map((p) => [...p]) }));
    state.revision = body.revision;
    state.kinds = body.kinds || {};
    state.selected = -1;
    state.drawing = null;
    img.hidden = !picture;
    blank.hidden = !!picture;
    state.size = picture ? picture.slice(0, 2) : NO_FRAME;
    blank.textContent = picture ? "" : `No picture of ${camera} yet: drawing on an empty ${NO_FRAME.join("×")} frame.`;
    source.textContent = picture
      ? `${picture[0]}×${picture[1]} px · ${picture[2] === "frame" ? "the newest frame" : "the newest event's snapshot"}`
      : "";
    board.style.aspectRatio = `${state.size[0]} / ${state.size[1]}`;
    board.dataset.width = state.size[0];
    board.dataset.height = state.size[1];
    showRevision(body);
    setDirty(false);
    renderList();
    draw();
    board.dataset.ready = "1";
    history.replaceState(null, "", `#/zones/${encodeURIComponent(camera)}`);
  }

  addButton.onclick = startDrawing;
  revertButton.onclick = () => load(state.camera);
  pick.onchange = async () => {
    if (state.dirty && !confirm("Leave this camera's unsaved zones?")) {
      pick.value = state.camera;
      return;
    }
    await load(pick.value);
  };
  saveButton.onclick = async () => {
    error.textContent = "";
    saveButton.disabled = true;
    try {
      const body = await api.put(`/cameras/${encodeURIComponent(state.camera)}/zones`, {
        zones: state.zones.map(({ name, kind, polygon }) => ({ name, kind, polygon })),
        base_revision: state.revision,
      });
      state.revision = body.revision;
      showRevision(body);
      setDirty(false);
      toast(`Saved revision ${body.revision}: the camera's worker applies it within seconds`);
    } catch (err) {
      error.textContent = err.message;
      saveButton.disabled = false;
    }
  };

  await load(pick.value);
  document.title = "Zones · Vigil";
  return () => {
    document.removeEventListener("keydown", onKey);
    window.removeEventListener("beforeunload", leave);
    resize.disconnect();
  };
}
