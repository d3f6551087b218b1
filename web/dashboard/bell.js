// The bell: the signed-in user's notifications (users/{uid}/notifications,
// written by the backend, read only by their owner). The unread count comes
// from a realtime listener; the bell opens a panel that lists the newest ones,
// marks them read (markNotificationsRead) and opens a generation's detail. An
// optional browser alert tells of new ones while the tab is hidden.
import { collection, doc, getDoc, limit, onSnapshot, orderBy, query, where } from "firebase/firestore";
import { httpsCallable } from "firebase/functions";

import { el, place, timeLabel, toDate } from "./format.js";
import { errorMessage } from "./messages.js";
import {
  PANEL_LIMIT,
  UNREAD_LIMIT,
  alertSetting,
  alertsFor,
  badgeText,
  bellLabel,
  markAllRead,
  newArrivals,
  noticeText,
} from "./notifications.js";

// Set when the user asked for browser alerts; the browser's permission alone is not
// enough, since a user may want alerts from other pages of this site but not this one.
const ALERTS_KEY = "generations-live:alerts";

function alertsWanted() {
  try {
    return window.localStorage.getItem(ALERTS_KEY) === "1";
  } catch {
    return false; // storage blocked: no alerts rather than alerts that cannot be turned off
  }
}

function rememberAlerts(wanted) {
  try {
    if (wanted) window.localStorage.setItem(ALERTS_KEY, "1");
    else window.localStorage.removeItem(ALERTS_KEY);
  } catch {
    // Storage blocked: the choice lasts until the page reloads.
  }
}

/**
 * @param {import("firebase/firestore").Firestore} db
 * @param {import("firebase/functions").Functions} functions
 * @param {{ onOpenGeneration: (id: string, generation: object, row: HTMLElement) => void }} actions
 *   opens the detail of the user's own generation (their users/{uid}/generations record)
 */
export function createBell(db, functions, { onOpenGeneration }, root = document) {
  const markNotificationsRead = httpsCallable(functions, "markNotificationsRead");
  const wrapper = root.getElementById("notifications");
  const bell = root.getElementById("bell");
  const badge = root.getElementById("bell-count");
  const panel = root.getElementById("notifications-panel");
  const markAllButton = root.getElementById("mark-all-read");
  const message = root.getElementById("notifications-message");
  const note = root.getElementById("notifications-note");
  const list = root.getElementById("notice-list");
  const alertsControl = root.getElementById("alerts-control");
  const alertsToggle = root.getElementById("alerts-toggle");
  const alertsNote = root.getElementById("alerts-note");
  const supported = "Notification" in window;

  let user = null;
  let unread = 0;
  let marking = false;
  let stopUnread = null;
  let stopList = null;
  // Bumped on every change of user: answers and snapshots for the previous one are dropped.
  let ticket = 0;
  // What the unread listener has seen, to tell new arrivals from old news (notifications.js).
  let seen = { primed: false, newest: null };
  // The panel's rows by notification id, reused across snapshots so a focused entry keeps
  // its focus (and the detail dialog finds it again) when it is marked read.
  let rows = new Map();
  let entries = new Map();

  function notificationsOf(uid) {
    return collection(db, "users", uid, "notifications");
  }

  /** Another user, or nobody: stop both listeners and keep nothing of the previous user. */
  function setUser(next) {
    ticket += 1;
    stopUnread?.();
    stopUnread = null;
    close({ focus: false });
    user = next;
    seen = { primed: false, newest: null };
    unread = 0;
    marking = false;
    rows = new Map();
    entries = new Map();
    list.replaceChildren();
    message.textContent = "";
    note.textContent = "";
    delete bell.dataset.state;
    renderBell();
    if (user) watchUnread();
  }

  // --- the unread count -------------------------------------------------------------

  // Always on while signed in: the badge and the browser alerts need it. It reads at
  // most UNREAD_LIMIT documents once, then only what changes.
  function watchUnread() {
    const current = ticket;
    const unreadQuery = query(
      notificationsOf(user.uid),
      where("read", "==", false),
      orderBy("createdAt", "desc"),
      limit(UNREAD_LIMIT),
    );
    stopUnread = onSnapshot(
      unreadQuery,
      (snapshot) => {
        if (current !== ticket) return;
        unread = snapshot.size;
        bell.dataset.state = "live";
        renderBell();
        const changes = snapshot.docChanges().map((change) => ({
          type: change.type,
          id: change.doc.id,
          read: change.doc.get("read"),
          createdAt: toDate(change.doc.get("createdAt"))?.getTime() ?? null,
        }));
        const { arrivals, newest } = newArrivals(seen, changes);
        // Primed once the server has answered: a snapshot from the cache alone may lack
        // what the server then adds, and those are not arrivals.
        seen = { primed: seen.primed || !snapshot.metadata.fromCache, newest };
        if (arrivals.length) {
          const byId = new Map(snapshot.docs.map((entry) => [entry.id, entry.data()]));
          alertArrivals(arrivals.map((id) => ({ id, text: noticeText(byId.get(id)) })));
        }
      },
      (error) => {
        if (current !== ticket) return;
        bell.dataset.state = "error";
        message.textContent = `Your notifications cannot be counted. ${errorMessage(error)}`;
      },
    );
  }

  function renderBell() {
    const text = badgeText(unread);
    badge.textContent = text;
    badge.hidden = !text;
    bell.dataset.unread = String(unread);
    bell.setAttribute("aria-label", bellLabel(unread));
    const disable = unread === 0 || marking;
    // A focused button that turns disabled drops focus to the page, and Escape with it.
    if (disable && root.activeElement === markAllButton) panel.focus();
    markAllButton.disabled = disable;
  }

  // --- the panel ------------------------------------------------------------------------

  function open() {
    if (!user || !panel.hidden) return;
    panel.hidden = false;
    bell.setAttribute("aria-expanded", "true");
    renderAlertsControl();
    watchList();
    panel.focus();
  }

  function close({ focus = true } = {}) {
    if (panel.hidden) return;
    panel.hidden = true;
    bell.setAttribute("aria-expanded", "false");
    stopList?.();
    stopList = null;
    if (focus) bell.focus();
  }

  // Only while the panel is open: most visits never open it, and a closed panel
  // would pay a read for every notification that arrives. The badge needs none of it.
  function watchList() {
    const current = ticket;
    if (!rows.size) note.textContent = "Loading your notifications…";
    stopList = onSnapshot(
      query(notificationsOf(user.uid), orderBy("createdAt", "desc"), limit(PANEL_LIMIT)),
      (snapshot) => current === ticket && renderList(snapshot.docs),
      (error) => {
        if (current !== ticket) return;
        note.textContent = `Your notifications cannot be shown. ${errorMessage(error)}`;
      },
    );
  }

  function renderList(docs) {
    const next = new Map();
    entries = new Map();
    for (const snapshot of docs) {
      const notification = snapshot.data();
      entries.set(snapshot.id, notification);
      const row = rows.get(snapshot.id) ?? el("li", { class: "notice-row" });
      fillRow(row, snapshot.id, notification);
      next.set(snapshot.id, row);
    }
    rows = next;
    place(list, [...next.values()]);
    note.textContent = docs.length ? "" : "No notifications yet.";
  }

  function fillRow(row, id, notification) {
    const isUnread = notification.read !== true;
    const generationId = notification.generationId || null;
    // An entry is a button when a click does something: marks it read or opens its generation.
    const tag = isUnread || generationId ? "button" : "div";
    let entry = row.firstElementChild;
    if (entry?.tagName.toLowerCase() !== tag) {
      const hadFocus = entry !== null && entry === root.activeElement;
      entry = el(tag, tag === "button" ? { type: "button" } : {});
      row.replaceChildren(entry);
      if (hadFocus) panel.focus();
    }
    entry.className = isUnread ? "notice unread" : "notice";
    entry.dataset.notificationId = id;
    entry.dataset.type = notification.type;
    entry.dataset.read = String(!isUnread);
    if (generationId) entry.dataset.generationId = generationId;
    else delete entry.dataset.generationId;
    // "Unread" is said, not only shown: a screen reader hears which are new. It is out of
    // the flow (styles.css), so the grid of dot, sentence and time stays as it is.
    const parts = [
      el("span", { class: "notice-dot", "aria-hidden": "true" }),
      isUnread ? el("span", { class: "visually-hidden" }, "Unread: ") : null,
      el("span", { class: "notice-text" }, noticeText(notification)),
      timeLabel(toDate(notification.createdAt)),
    ];
    // replaceChildren would write a null (a read entry) as the text "null".
    entry.replaceChildren(...parts.filter(Boolean));
  }

  async function markOne(id) {
    const current = ticket;
    try {
      await markNotificationsRead({ ids: [id] });
      // The listeners redraw the entry as read and lower the count.
    } catch (error) {
      if (current === ticket) message.textContent = `It was not marked read. ${errorMessage(error)}`;
    }
  }

  async function markAll() {
    if (!user || marking) return;
    const current = ticket;
    marking = true;
    renderBell();
    message.textContent = "Marking all read…";
    try {
      await markAllRead(async () => (await markNotificationsRead({})).data);
      if (current === ticket) message.textContent = "";
    } catch (error) {
      if (current === ticket) message.textContent = `Not all were marked read. ${errorMessage(error)}`;
    } finally {
      if (current === ticket) {
        marking = false;
        renderBell();
      }
    }
  }

  async function openGeneration(generationId, entry) {
    const current = ticket;
    try {
      // The owner's record: what the history shows and the detail dialog expects.
      const snapshot = await getDoc(doc(db, "users", user.uid, "generations", generationId));
      if (current !== ticket) return;
      if (!snapshot.exists()) {
        message.textContent = errorMessage({ code: "not-found" });
        return;
      }
      onOpenGeneration(generationId, snapshot.data(), entry);
    } catch (error) {
      if (current === ticket) message.textContent = `That generation cannot be shown. ${errorMessage(error)}`;
    }
  }

  bell.addEventListener("click", () => (panel.hidden ? open() : close()));
  markAllButton.addEventListener("click", () => void markAll());
  list.addEventListener("click", (event) => {
    const entry = event.target.closest("button[data-notification-id]");
    if (!entry || !list.contains(entry)) return;
    const id = entry.dataset.notificationId;
    const notification = entries.get(id);
    if (!notification) return;
    message.textContent = "";
    if (notification.read !== true) void markOne(id);
    if (notification.generationId) void openGeneration(notification.generationId, entry);
  });
  // Escape from anywhere in the bell or its panel; the detail dialog is outside both,
  // so its own Escape closes only the dialog.
  wrapper.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || panel.hidden) return;
    event.preventDefault();
    close();
  });
  // A click elsewhere on the page closes the panel, but not one in a dialog opened from it.
  root.addEventListener("click", (event) => {
    if (panel.hidden || wrapper.contains(event.target) || event.target.closest?.("dialog")) return;
    close({ focus: false });
  });

  // --- browser alerts ---------------------------------------------------------------------

  function renderAlertsControl() {
    const setting = alertSetting({
      supported,
      permission: supported ? Notification.permission : "default",
      wanted: alertsWanted(),
    });
    alertsControl.hidden = setting.hidden;
    alertsToggle.checked = setting.checked;
    alertsToggle.disabled = setting.disabled;
    alertsNote.textContent = setting.note;
  }

  alertsToggle.addEventListener("change", async () => {
    if (!supported) return;
    if (!alertsToggle.checked) {
      rememberAlerts(false);
      renderAlertsControl();
      return;
    }
    // Asked here only, on the user's own click: browsers refuse or penalise unprompted asks.
    let permission = Notification.permission;
    if (permission === "default") {
      try {
        permission = await Notification.requestPermission();
      } catch {
        permission = Notification.permission;
      }
    }
    rememberAlerts(permission === "granted");
    renderAlertsControl();
  });

  function alertArrivals(arrivals) {
    // Only while the tab is hidden: otherwise the badge already shows it.
    if (!supported || !root.hidden || Notification.permission !== "granted" || !alertsWanted()) {
      return;
    }
    for (const { text, tag } of alertsFor(arrivals)) {
      try {
        const shown = new Notification(text, { tag });
        shown.addEventListener("click", () => {
          window.focus();
          open();
        });
      } catch {
        // Some browsers (Chrome on Android) allow alerts only from a service worker:
        // the badge still counts the notification.
      }
    }
  }

  renderBell();
  return { setUser };
}
