// What the bell says, as plain values: the sentence of each notification, the
// badge and the bell's accessible name, which snapshot changes are new
// arrivals worth a browser alert, and "mark all read" as a loop over the
// callable. No DOM, no SDK, so the rules are tested on their own in Node.
import { count, credits, TYPES } from "./format.js";

/** Unread notifications the bell's listener reads at most (the rules allow up to 100). */
export const UNREAD_LIMIT = 100;
/** Notifications the open panel lists, newest first. */
export const PANEL_LIMIT = 20;
/** Browser alerts shown for one snapshot at most: a burst reads as one summary. */
export const MAX_ALERTS = 3;
// "Mark all read" marks up to 500 per call; this many calls (5,000) cover any real backlog
// and stop a loop that a misbehaving answer would otherwise never end.
const MAX_MARK_CALLS = 10;

/** "image" -> "image", unknown or missing -> null: the sentence then names no type. */
function typeWord(type) {
  const label = TYPES[type]?.label;
  return label ? label.toLowerCase() : null;
}

function generationSubject(notification) {
  const type = typeWord(notification.generationType);
  const engine = typeof notification.engine === "string" && notification.engine.trim();
  return `Your ${type ? `${type} ` : ""}generation${engine ? ` (${engine})` : ""}`;
}

/**
 * The sentence of one notification: "Your image generation (gemini) completed",
 * "Your credits are low: 3 left (alert below 5)", "100 credits purchased".
 * A type this page does not know yet still reads as a sentence.
 *
 * @param {{ type: string, generationType?: string | null, engine?: string | null,
 *   credits?: number | null, available?: number | null, threshold?: number | null }} notification
 * @returns {string}
 */
export function noticeText(notification) {
  switch (notification?.type) {
    case "generation.completed":
      return `${generationSubject(notification)} completed`;
    case "generation.failed":
      return `${generationSubject(notification)} failed`;
    case "credits.low": {
      const { available, threshold } = notification;
      if (typeof available !== "number") return "Your credits are low";
      const below = typeof threshold === "number" ? ` (alert below ${count(threshold)})` : "";
      return `Your credits are low: ${count(available)} left${below}`;
    }
    case "credits.purchased":
      return typeof notification.credits === "number"
        ? `${credits(notification.credits)} purchased`
        : "Credits purchased";
    case "credits.granted":
      return typeof notification.credits === "number"
        ? `${credits(notification.credits)} granted`
        : "Credits granted";
    case "webhook.disabled":
      return "A webhook endpoint was turned off after failing repeatedly";
    default:
      return "You have a new notification";
  }
}

/** The badge on the bell: nothing at 0, "99+" past 99 (the listener reads at most 100). */
export function badgeText(unread) {
  if (!(unread > 0)) return "";
  return unread > 99 ? "99+" : String(unread);
}

/** The bell's accessible name: "Notifications", "Notifications, 3 unread". */
export function bellLabel(unread) {
  const badge = badgeText(unread);
  if (!badge) return "Notifications";
  return badge === "99+" ? "Notifications, more than 99 unread" : `Notifications, ${badge} unread`;
}

/**
 * Which changes of an unread-listener snapshot are new arrivals, and the
 * newest creation time seen after it. Nothing is new before the listener has
 * heard from the server once (`primed`: a first snapshot from the cache would
 * otherwise make every unread notification "arrive"), and only notifications
 * created after the newest one seen count: an older unread one that moves into
 * the window (the 100 newest) when another is read is old news.
 *
 * @param {{ primed: boolean, newest: number | null }} seen
 * @param {Array<{ type: "added" | "modified" | "removed", id: string, read?: boolean,
 *   createdAt: number | null }>} changes createdAt in ms since the epoch
 * @returns {{ arrivals: string[], newest: number | null }}
 */
export function newArrivals({ primed, newest }, changes) {
  const arrivals = [];
  let latest = newest;
  for (const change of changes) {
    const { type, id, read, createdAt } = change;
    if (type === "removed") continue;
    const isNew = newest === null || (createdAt !== null && createdAt > newest);
    if (primed && type === "added" && read !== true && isNew) arrivals.push(id);
    if (createdAt !== null && (latest === null || createdAt > latest)) latest = createdAt;
  }
  return { arrivals, newest: latest };
}

/**
 * The browser alerts for a snapshot's arrivals: one per notification, up to
 * MAX_ALERTS; more than that at once read as one summary instead of a burst.
 * `tag` lets the browser replace rather than stack an alert another tab showed.
 *
 * @param {Array<{ id: string, text: string }>} arrivals
 * @returns {Array<{ text: string, tag: string }>}
 */
export function alertsFor(arrivals) {
  if (arrivals.length > MAX_ALERTS) {
    return [{ text: `${arrivals.length} new notifications`, tag: "generations-live:many" }];
  }
  return arrivals.map(({ id, text }) => ({ text, tag: `generations-live:${id}` }));
}

/**
 * Mark every unread notification read: `mark()` calls markNotificationsRead
 * without ids, which marks a batch and answers `{ marked, more }`; call again
 * while `more` holds. Resolves to the number marked.
 *
 * @param {() => Promise<{ marked: number, more: boolean }>} mark
 * @returns {Promise<number>}
 */
export async function markAllRead(mark, maxCalls = MAX_MARK_CALLS) {
  let marked = 0;
  for (let call = 0; call < maxCalls; call += 1) {
    const answer = await mark();
    marked += Number(answer?.marked) || 0;
    if (answer?.more !== true) return marked;
  }
  return marked;
}

/**
 * How the "Alert me when the tab is hidden" control shows: absent without the
 * Notification API, ticked only when the browser allows alerts and the user
 * asked for them, and disabled with a note once the browser blocks them (the
 * page cannot ask again: only the browser's site settings can undo it).
 *
 * @param {{ supported: boolean, permission: string, wanted: boolean }} state
 * @returns {{ hidden: boolean, checked: boolean, disabled: boolean, note: string }}
 */
export function alertSetting({ supported, permission, wanted }) {
  if (!supported) return { hidden: true, checked: false, disabled: true, note: "" };
  if (permission === "denied") {
    return {
      hidden: false,
      checked: false,
      disabled: true,
      note: "This browser blocks alerts from this page: allow them in its site settings.",
    };
  }
  return { hidden: false, checked: permission === "granted" && wanted, disabled: false, note: "" };
}
