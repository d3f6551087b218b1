// The live feed: the 50 newest public generations through the realtime
// listener of web/live-feed.js (no polling), filtered by type and status.
import { FEED_LIMIT, watchLiveGenerations } from "../live-feed.js";

import { el, freshRows, statusPill, timeLabel, toDate, typeBadge } from "./format.js";
import { errorMessage } from "./messages.js";

/**
 * @param {import("firebase/firestore").Firestore} db
 * @param {{ list: HTMLElement, note: HTMLElement, typeFilter: HTMLSelectElement,
 *   statusFilter: HTMLSelectElement }} elements
 */
export function createFeed(db, { list, note, typeFilter, statusFilter }) {
  let unsubscribe = null;
  let rows = new Map(); // generation id -> its <li>, reused across snapshots
  let first = true;
  // Every row shown since the feed started, across re-subscriptions, and the
  // newest creation time among them: what "really new" is measured against.
  let known = new Set();
  let newest = null;
  let subscription = 0;

  function start() {
    unsubscribeOnly();
    const ticket = ++subscription;
    first = true;
    rows = new Map();
    list.replaceChildren();
    note.textContent = "Connecting to the live feed…";
    delete note.dataset.state;
    const filter = { type: typeFilter.value || undefined, status: statusFilter.value || undefined };
    unsubscribe = watchLiveGenerations(
      db,
      filter,
      (generations) => ticket === subscription && render(generations),
      (error) => {
        if (ticket !== subscription) return;
        note.textContent = `The live feed stopped. ${errorMessage(error)} Reload the page to try again.`;
        note.dataset.state = "error";
      },
    );
  }

  function unsubscribeOnly() {
    subscription += 1;
    if (unsubscribe) unsubscribe();
    unsubscribe = null;
  }

  /** Stop listening and forget what was shown (signed out: nothing of it stays). */
  function stop() {
    unsubscribeOnly();
    rows = new Map();
    known = new Set();
    newest = null;
    list.replaceChildren();
    note.textContent = "";
    note.dataset.state = "signed-out";
  }

  function render(generations) {
    const created = generations.map((generation) => ({
      id: generation.id,
      createdAt: toDate(generation.createdAt)?.getTime() ?? null,
    }));
    const fresh = freshRows({ first, known, newest }, created);
    const next = new Map();
    for (const generation of generations) {
      const row = rows.get(generation.id) ?? newRow(generation.id, fresh.has(generation.id));
      fill(row, generation);
      next.set(generation.id, row);
    }
    rows = next;
    place(list, [...next.values()]);
    for (const { id, createdAt } of created) {
      known.add(id);
      if (createdAt !== null && (newest === null || createdAt > newest)) newest = createdAt;
    }
    first = false;
    note.dataset.state = "live";
    const shown = generations.length;
    const what =
      shown === FEED_LIMIT ? `the ${FEED_LIMIT} newest generations` : `${shown} generation${shown === 1 ? "" : "s"}`;
    note.textContent = shown ? `Live · ${what}${filterText()}` : `Live · no generations yet${filterText()}`;
  }

  function filterText() {
    const parts = [typeFilter.value, statusFilter.value].filter(Boolean);
    return parts.length ? ` (${parts.join(", ")})` : "";
  }

  typeFilter.addEventListener("change", () => unsubscribe && start());
  statusFilter.addEventListener("change", () => unsubscribe && start());

  return { start, stop };
}

/**
 * Make `list`'s children exactly `wanted`, in order, moving only what is out
 * of place: a row taken out and put back would replay its highlight.
 */
function place(list, wanted) {
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

function newRow(id, fresh) {
  // A really new row flashes once, so a change catches the eye.
  return el("li", { class: fresh ? "gen fresh" : "gen", "data-generation-id": id });
}

function fill(row, generation) {
  const created = toDate(generation.createdAt);
  row.dataset.status = generation.status;
  row.dataset.type = generation.type;
  const prompt = generation.hidden
    ? el("p", { class: "prompt private" }, "Hidden by a moderator")
    : generation.prompt === null || generation.prompt === undefined
      ? el("p", { class: "prompt private" }, "Private prompt")
      : el("p", { class: "prompt", title: generation.prompt }, generation.prompt);
  row.replaceChildren(
    el(
      "div",
      { class: "gen-head" },
      el("span", { class: "user" }, generation.userName ?? "Anonymous creator"),
      typeBadge(generation.type),
      el("span", { class: "engine" }, generation.engine ?? ""),
      generation.batchSize > 1 ? el("span", { class: "batch" }, `×${generation.batchSize}`) : null,
    ),
    prompt,
    el(
      "div",
      { class: "gen-foot" },
      statusPill(generation.status),
      // The public error code says why a generation failed (the message stays private).
      generation.status === "failed" && generation.errorCode
        ? el("span", { class: "error-code", title: "error code" }, generation.errorCode)
        : null,
      timeLabel(created),
    ),
  );
}
