// WebPush on this browser: the service worker (sw.js) is registered on sign-in; "Notify me"
// subscribes with the site's VAPID key (GET /push/key) and hands the subscription to the API,
// so alerts reach the phone and a tap opens the event. What is missing is said plainly: no
// push in this browser, notifications blocked, or no WebPush channel on the site.
import { api, ApiError } from "./api.js";
import { el, toast } from "./format.js";

const supported = () => "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;

/** ``applicationServerKey`` bytes from the API's base64url text. */
export function keyBytes(base64url) {
  const text = atob(base64url.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (base64url.length % 4)) % 4));
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

async function subscribe(registration) {
  let key;
  try {
    key = (await api.get("/push/key")).application_server_key;
  } catch (err) {
    throw new Error(err instanceof ApiError && err.status === 404
      ? "This site sends no push alerts (no WebPush channel); ask an admin." : `Push key: ${err.message}`);
  }
  const permission = await Notification.requestPermission();
  if (permission !== "granted") throw new Error("Notifications are blocked for this site in the browser's settings.");
  let sub;
  try {
    sub = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) });
  } catch (err) {
    throw new Error(`This browser has no push service available (${err.message}).`);
  }
  await api.post("/push/subscriptions", sub.toJSON());
  return sub;
}

/** Register the service worker and put "Notify me" in the top bar; returns an undo. */
export async function setupPush() {
  document.getElementById("notify")?.remove();
  if (!supported()) return () => {};
  const button = el("button", { type: "button", class: "ghost", id: "notify", title: "Alerts on this device, even when the console is closed" }, "Notify me");
  document.querySelector(".me").prepend(button);
  const onMessage = (e) => { if (e.data?.open) location.href = e.data.open; };
  navigator.serviceWorker.addEventListener("message", onMessage);
  let registration;
  try {
    registration = await navigator.serviceWorker.register(new URL("../sw.js", import.meta.url).href);
  } catch (err) {
    button.disabled = true;
    button.title = `No service worker: ${err.message}`;
    return () => navigator.serviceWorker.removeEventListener("message", onMessage);
  }
  const show = (sub) => {
    button.textContent = sub ? "Notifying" : "Notify me";
    button.classList.toggle("on", Boolean(sub));
  };
  show(await registration.pushManager.getSubscription().catch(() => null));
  button.onclick = async () => {
    button.disabled = true;
    try {
      const current = await registration.pushManager.getSubscription();
      if (current) {
        await api.remove("/push/subscriptions", { endpoint: current.endpoint }).catch(() => {});
        await current.unsubscribe();
        show(null);
        toast("Push alerts off for this browser.");
      } else {
        show(await subscribe(registration));
        toast("Push alerts on: a tap on one opens the event.");
      }
    } catch (err) {
      toast(err.message);
      button.dataset.error = err.message;
    } finally {
      button.disabled = false;
    }
  };
  return () => navigator.serviceWorker.removeEventListener("message", onMessage);
}
