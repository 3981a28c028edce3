// Exports of a recorded range: the range (dragged on the timeline or In/Out at the playhead),
// two ways to cut it (at keyframes: fast, no re-encode; exact: the ends re-encoded), and the
// jobs this page started with their state, elapsed time and download link.
import { api } from "./api.js";
import { el, toast } from "./format.js";
import { clock, span } from "./timeaxis.js";

const iso = (wall) => new Date(wall * 1000).toISOString();

function megabytes(bytes) {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1e3))} kB`;
}

/** The export panel of ``camera``; ``range()`` gives ``{a, b}`` (epoch s, null if unset). */
export function exportPanel(camera, range, { setIn, setOut }) {
  const readout = el("p", { class: "range mono", id: "export-range" });
  const keyframe = el("button", { type: "button", class: "primary", id: "export-keyframe",
    title: "Cut at keyframes: no re-encode, may start up to a keyframe interval early" }, "Export");
  const exact = el("button", { type: "button", id: "export-exact",
    title: "Re-encode the ends to start and stop exactly at the range" }, "Exact cut");
  const jobs = el("ol", { class: "jobs", id: "exports" });
  const node = el("section", { class: "export-panel" },
    el("h2", {}, "Export"),
    readout,
    el("div", { class: "actions" },
      el("button", { type: "button", title: "Range starts at the playhead (i)", onclick: setIn }, "In"),
      el("button", { type: "button", title: "Range ends at the playhead (o)", onclick: setOut }, "Out"),
      keyframe, exact),
    jobs);
  const polling = new Map(); // job id -> its row

  function update() {
    const { a, b } = range();
    const ok = a !== null && b !== null && b - a >= 0.5;
    readout.textContent = ok ? `${clock(a)} → ${clock(b)} · ${span(b - a)}` : "Drag on the timeline to pick a range.";
    keyframe.disabled = !ok;
    exact.disabled = !ok;
  }

  function render(job, row) {
    const done = job.state === "done";
    const started = Date.parse(row.dataset.created);
    const elapsed = Math.round((Date.now() - started) / 1000);
    row.dataset.state = job.state;
    row.replaceChildren(...[
      el("div", { class: "job-what" },
        el("b", {}, `${clock(Date.parse(job.start) / 1000)}–${clock(Date.parse(job.end) / 1000)}`),
        el("span", { class: "muted" }, job.exact ? " exact" : " keyframe cut"),
        el("span", { class: `job-state ${job.state}` }, job.state,
          done || job.state === "failed" ? "" : ` · ${elapsed} s`)),
      done ? null : job.state === "failed" ? el("p", { class: "error" }, job.error || "failed")
        : el("progress", { title: `${elapsed} s` }),
      done ? el("div", { class: "job-done" },
        el("a", { class: "download", href: job.download, download: "" }, "Download MP4"),
        el("span", { class: "muted" }, ` ${megabytes(job.bytes || 0)}`),
        job.note ? el("div", { class: "muted" }, job.note) : null) : null,
    ].filter(Boolean));
  }

  async function start(isExact) {
    const { a, b } = range();
    try {
      const job = await api.post("/exports", { camera, start: iso(a), end: iso(b), exact: isExact });
      const row = el("li", { class: "job", dataset: { id: job.id, created: new Date().toISOString() } });
      jobs.prepend(row);
      render(job, row);
      polling.set(job.id, row);
    } catch (err) {
      toast(`Export refused: ${err.message}`);
    }
  }
  keyframe.onclick = () => start(false);
  exact.onclick = () => start(true);

  let busy = false; // a slow answer must not start a second poll of the same job
  const timer = setInterval(async () => {
    if (busy) return;
    busy = true;
    for (const [id, row] of [...polling]) {
      try {
        const job = await api.get(`/exports/${id}`);
        render(job, row);
        if (job.state === "done" || job.state === "failed") polling.delete(id);
      } catch (err) {
        polling.delete(id);
        row.append(el("p", { class: "error" }, err.message));
      }
    }
    busy = false;
  }, 1000);
  update();
  return { node, update, stop: () => clearInterval(timer) };
}
