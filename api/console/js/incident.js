// Incident replay (being written).
import { el } from "./format.js";

export async function incident(view) {
  view.append(el("section", { class: "panel incident", id: "incident" }, el("h1", {}, "Incident replay")));
  return null;
}
