// The live feed: the 50 newest public generations through the realtime
// listener of web/live-feed.js (no polling), filtered by type and status.
import { FEED_LIMIT, watchLiveGenerations } from "../live-feed.js";

import { el, statusPill, timeLabel, toDate, typeBadge } from "./format.js";

/**
 * @param {import("firebase/firestore").Firestore} db
 * @param {{ list: HTMLElement, note: HTMLElement, typeFilter: HTMLSelectElement,
 *   statusFilter: HTMLSelectElement }} elements
 */
export function createFeed(db, { list, note, typeFilter, statusFilter }) {
  let unsubscribe = null;
  let rows = new Map(); // generation id -> its <li>, reused across snapshots
  let first = true;

  function start() {
    stop();
    first = true;
    rows = new Map();
    list.replaceChildren();
    note.textContent = "Connecting to the live feed…";
    const filter = { type: typeFilter.value || undefined, status: statusFilter.value || undefined };
    unsubscribe = watchLiveGenerations(db, filter, render, (error) => {
      note.textContent = `The live feed stopped: ${error.code}. Reload the page to try again.`;
      note.dataset.state = "error";
    });
  }

  function stop() {
    if (unsubscribe) unsubscribe();
    unsubscribe = null;
  }

  function render(generations) {
    const next = new Map();
    for (const generation of generations) {
      const row = rows.get(generation.id) ?? newRow(generation.id, !first);
      fill(row, generation);
      next.set(generation.id, row);
    }
    rows = next;
    list.replaceChildren(...next.values());
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

function newRow(id, fresh) {
  // Rows that arrive after the first snapshot flash once, so a change catches the eye.
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
