// One event as a row of a list (thumbnail, what, where, when, severity, status).
import { el, label, severity, status, when } from "./format.js";

export function eventRow(e, { fresh = false } = {}) {
  const thumb = e.snapshot_url
    ? el("img", { class: "thumb", src: e.snapshot_url, alt: "", loading: "lazy", decoding: "async" })
    : el("div", { class: "thumb none" }, e.state === "open" ? "live" : "no picture");
  return el("a", { class: `row${fresh ? " fresh" : ""}`, href: `#/events/${encodeURIComponent(e.id)}`,
    dataset: { id: e.id, status: e.status } },
  thumb,
  el("div", { class: "what" },
    el("b", {}, label(e.rule)),
    el("span", {}, `${e.camera}${e.zone ? ` · ${e.zone}` : ""}`,
      e.peak_confidence != null ? ` · ${Math.round(e.peak_confidence * 100)}%` : "",
      e.assignee ? ` · ${e.assignee}` : ""),
    el("span", {}, e.start_time ? when(e.start_time) : "", e.state === "open" ? " · ongoing" : "",
      e.due ? ` due ${when(e.due)}` : "")),
  el("div", { class: "side" }, severity(e.severity), status(e.status)));
}
