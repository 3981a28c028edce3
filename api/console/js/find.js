// "What did the models see?": when a label (in a zone) was in a camera's analysed frames this
// day (GET /search over the kept score timeline), as a list and as a lane on the timeline; a
// click plays from there. It answers what no rule flagged.
import { api } from "./api.js";
import { el, label } from "./format.js";
import { clock, span, wallSpan } from "./timeaxis.js";

const LABELS = ["person", "head_bare", "helmet", "vest", "harness", "fire", "smoke", "fallen"];
const iso = (wall) => new Date(wall * 1000).toISOString();

/** ``bounds()`` gives the day searched; ``onFound({label, spans})`` draws them; ``seek(wall)``. */
export function findPanel(camera, bounds, onFound, seek) {
  const what = el("input", { id: "find-label", list: "find-labels", value: "person", required: true,
    pattern: "[a-z][a-z0-9_]*", autocomplete: "off", "aria-label": "label" });
  const zone = el("input", { id: "find-zone", placeholder: "any zone", "aria-label": "zone" });
  const results = el("div", { class: "found-list", id: "found" });
  const form = el("form", { class: "find" },
    what, el("datalist", { id: "find-labels" }, LABELS.map((l) => el("option", { value: l }))),
    zone, el("button", { type: "submit" }, "Find"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const [start, end] = bounds();
    results.replaceChildren(el("p", { class: "muted" }, "Searching…"));
    try {
      const answer = await api.get("/search", {
        camera, label: what.value.trim(), zone: zone.value.trim(), start: iso(start), end: iso(end),
      });
      const spans = answer.spans.map((s) => ({ ...wallSpan(s), frames: s.frames, best: s.best_confidence }));
      onFound({ label: answer.label, spans });
      results.replaceChildren(...(spans.length ? spans.map((s) =>
        el("button", { type: "button", class: "day-event", dataset: { start: String(s.start) }, onclick: () => seek(s.start) },
          el("span", { class: "mono" }, clock(s.start)), el("b", {}, span(Math.max(1, s.end - s.start))),
          el("span", { class: "muted" }, `${s.frames} frames · ${Math.round(s.best * 100)}%`)))
        : [el("p", { class: "muted" }, `No ${label(answer.label).toLowerCase()} seen this day.`)]));
    } catch (err) {
      results.replaceChildren(el("p", { class: "error" }, err.message));
    }
  });
  return {
    node: el("section", { class: "find-panel" }, el("h2", {}, "What the models saw"), form, results),
    clear: () => results.replaceChildren(),
  };
}
