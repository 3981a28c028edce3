// The console's service worker (scope /console/): shows a WebPush alert as a notification, and
// a click on it opens the event in the console (an open console tab is reused).
// A push carries what events/alerts/payloads.py push_message() writes:
// {title, body, url, event_id, camera, rule, severity, type}.

const eventPage = (id) => new URL(`./#/events/${encodeURIComponent(id)}`, self.registration.scope).href;

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = { title: "Vigil", body: event.data ? event.data.text() : "" };
  }
  const url = data.event_id ? eventPage(data.event_id) : self.registration.scope;
  event.waitUntil(self.registration.showNotification(data.title || "Vigil", {
    body: data.body || "",
    tag: data.event_id || undefined, // a later push of the same event replaces it
    renotify: Boolean(data.event_id),
    requireInteraction: data.severity === "critical",
    data: { url, event_id: data.event_id || null },
  }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = event.notification.data?.url || self.registration.scope;
  event.waitUntil((async () => {
    const tabs = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    const tab = tabs.find((c) => c.url.startsWith(self.registration.scope));
    if (tab) {
      await tab.focus();
      return tab.navigate(url).catch(() => tab.postMessage({ open: url }));
    }
    return self.clients.openWindow(url);
  })());
});
