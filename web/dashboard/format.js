// Pure helpers of the dashboard: labels, numbers, times and a tiny DOM builder.
// Every value from the backend reaches the page through textContent, never as HTML.

/**
 * Generation types, in the order the page lists them: `label` names a type in the
 * selects and badges, `card` titles its metric card. This is the dashboard's one
 * list of types: index.html names none, and the type options of its selects, its
 * per-type metric cards and what analytics fills in are made from this list at
 * start-up (styles.css gives each type its colour).
 */
export const TYPES = {
  image: { label: "Image", card: "AI Images" },
  video: { label: "Video", card: "AI Videos" },
  audio: { label: "Audio", card: "AI Audio" },
  text: { label: "Text", card: "AI Text" },
};

/** Every type has a metric card, in the page's order, so their shares make up the whole. */
export const CARD_TYPES = Object.keys(TYPES);

/** Statuses of a generation; `processing` is the only one that still moves. */
export const STATUSES = ["processing", "completed", "failed", "canceled"];

const numbers = new Intl.NumberFormat("en");

/** 1234 -> "1,234"; missing values show as a dash. */
export function count(value) {
  return typeof value === "number" ? numbers.format(value) : "–";
}

/** 1 -> "1 credit", 20 -> "20 credits". */
export function credits(value) {
  return `${count(value)} credit${value === 1 ? "" : "s"}`;
}

/** 0.9234 -> "92.3%"; `null` (nothing finished yet) -> "–". */
export function percent(rate) {
  return typeof rate === "number" ? `${(rate * 100).toFixed(1)}%` : "–";
}

/**
 * Whole percentages of `counts` that add up to exactly 100 (largest remainder:
 * every share is rounded down, then the points left over go to the largest
 * remainders, ties to the earlier entry). All zeros: all zeros.
 *
 * @param {number[]} counts
 * @returns {number[]}
 */
export function shares(counts) {
  const total = counts.reduce((sum, value) => sum + value, 0);
  if (total <= 0) return counts.map(() => 0);
  const exact = counts.map((value) => (value * 100) / total);
  const result = exact.map(Math.floor);
  let left = 100 - result.reduce((sum, value) => sum + value, 0);
  const order = exact
    .map((value, index) => ({ index, remainder: value - Math.floor(value) }))
    .sort((a, b) => b.remainder - a.remainder || a.index - b.index);
  for (const { index } of order) {
    if (left <= 0) break;
    result[index] += 1;
    left -= 1;
  }
  return result;
}

/**
 * Which rows of a snapshot are really new: not in the subscription's first
 * snapshot, never shown since the feed started (a new subscription after
 * sign-in or a filter change shows known rows again), and created after the
 * newest row shown before (rows that move up into the 50 newest are old news).
 * Pure, so the rule is tested on its own.
 *
 * @param {{ first: boolean, known: Set<string>, newest: number | null }} seen
 * @param {Array<{ id: string, createdAt: number | null }>} rows createdAt in ms since the epoch
 * @returns {Set<string>} the ids to highlight
 */
export function freshRows({ first, known, newest }, rows) {
  const fresh = new Set();
  if (first) return fresh;
  for (const { id, createdAt } of rows) {
    if (known.has(id)) continue;
    if (newest !== null && (createdAt === null || createdAt <= newest)) continue;
    fresh.add(id);
  }
  return fresh;
}

/** A Firestore Timestamp, an ISO string or a Date, as a Date (`null` when absent). */
export function toDate(value) {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value;
  if (typeof value.toDate === "function") return value.toDate();
  const parsed = new Date(value);
  return Number.isNaN(parsed.getTime()) ? null : parsed;
}

/** "just now", "42 s ago", "5 min ago", "3 h ago", "2 d ago". */
export function relativeTime(date, now = new Date()) {
  if (!date) return "";
  const seconds = Math.max(0, Math.round((now.getTime() - date.getTime()) / 1000));
  if (seconds < 5) return "just now";
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

/** "14:03:12" in the viewer's time zone. */
export function clock(date) {
  return date ? date.toLocaleTimeString("en-GB", { hour12: false }) : "";
}

/**
 * Build an element: `el("span", { class: "badge", "data-x": "1" }, "text", child)`.
 * Strings become text nodes, so no value is ever parsed as HTML.
 */
export function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    element.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return element;
}

/**
 * Make `list`'s children exactly `wanted`, in order, moving only what is out
 * of place: a row taken out and put back would replay its highlight and lose
 * keyboard focus.
 */
export function place(list, wanted) {
  const keep = new Set(wanted);
  for (const child of [...list.children]) {
    if (!keep.has(child)) child.remove();
  }
  let cursor = list.firstElementChild;
  for (const row of wanted) {
    if (row === cursor) {
      cursor = cursor.nextElementSibling;
    } else {
      list.insertBefore(row, cursor);
    }
  }
}

/** One `<option>` per type, in order, for a select that chooses a type. */
export function typeOptions() {
  return Object.entries(TYPES).map(([type, { label }]) => el("option", { value: type }, label));
}

/** The metric card of a type with a `card` title; analytics fills its `.value` and `.sub`. */
export function typeCard(type) {
  return el(
    "article",
    { class: `card card-${type}`, "data-metric": type },
    el("h2", {}, TYPES[type].card),
    el("p", { class: "value" }, "–"),
    el("p", { class: "sub" }, "\u00a0"),
  );
}

/** The type badge, coloured like the metric cards. */
export function typeBadge(type) {
  return el("span", { class: `badge type-${type}` }, TYPES[type]?.label ?? type);
}

/** The status pill: amber processing, green completed, red failed, grey canceled. */
export function statusPill(status) {
  return el("span", { class: `status status-${status}` }, status);
}

/** A relative time that `refreshTimes` keeps current. */
export function timeLabel(date) {
  return el(
    "time",
    { class: "when", datetime: date ? date.toISOString() : undefined, title: date?.toLocaleString() },
    relativeTime(date),
  );
}

/** Rewrite every relative time under `root` (the clock moves, the data does not). */
export function refreshTimes(root, now = new Date()) {
  for (const label of root.querySelectorAll("time.when[datetime]")) {
    label.textContent = relativeTime(new Date(label.getAttribute("datetime")), now);
  }
}

/** 850 -> "850 ms", 12400 -> "12.4 s", 125000 -> "2 min 5 s"; missing -> "–". */
export function duration(ms) {
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) return "–";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}

/** 900 -> "900 B", 24576 -> "24 KB", 3.5e6 -> "3.3 MB"; missing -> "". */
export function fileSize(bytes) {
  if (typeof bytes !== "number" || !Number.isFinite(bytes) || bytes < 0) return "";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}
