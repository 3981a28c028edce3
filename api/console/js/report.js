// Report a hazard from the phone: a photo from the camera, where, what; it enters the loop.
import { api } from "./api.js";
import { el, toast } from "./format.js";
import { reportHazard } from "./loop.js";

export async function report(view) {
  const cameras = await api.get("/cameras").catch(() => []);
  const error = el("p", { class: "error" });
  const preview = el("img", { alt: "", hidden: true, style: "width:100%;border-radius:4px" });
  const photo = el("input", { name: "photo", type: "file", accept: "image/*", capture: "environment", required: true });
  photo.onchange = () => {
    const file = photo.files[0];
    preview.hidden = !file;
    if (file) preview.src = URL.createObjectURL(file);
  };
  const form = el("form", { class: "form", id: "report" },
    el("label", {}, "Photo", photo), preview,
    el("label", {}, "Camera (if one sees it)", el("select", { name: "camera" },
      el("option", { value: "" }, "none"), cameras.map((c) => el("option", { value: c.id }, c.name || c.id)))),
    el("label", {}, "Area", el("input", { name: "area", placeholder: "e.g. tank farm B, stair 3", required: true })),
    el("label", {}, "Severity", el("select", { name: "severity" },
      ["high", "medium", "low", "critical"].map((s) => el("option", { value: s }, s)))),
    el("label", {}, "What is wrong", el("textarea", { name: "description", rows: 3, required: true })),
    error,
    el("button", { type: "submit", class: "primary" }, "Report"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    try {
      const made = await reportHazard({
        photo: data.get("photo"), camera: data.get("camera"), area: data.get("area"),
        description: data.get("description"), severity: data.get("severity"),
      });
      toast("Reported: it is in the hazard loop");
      const id = made && (made.event_id || made.id);
      location.hash = id ? `#/events/${encodeURIComponent(id)}` : "#/events";
    } catch (err) {
      error.textContent = err.status === 404 || err.status === 405
        ? "This server does not take hand reports yet." : err.message;
    }
  });
  view.append(el("section", { class: "panel" }, el("h1", {}, "Report a hazard"), form));
  document.title = "Report · Vigil";
}
