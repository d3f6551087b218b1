// The live feed: the 50 newest public generations through the realtime
// listener of web/live-feed.js on the view's snapshot document (no polling, at
// most one read a second), filtered by type and status.
// Each row shows its result (previews.js); a click or Enter opens its detail,
// and "Use this prompt" copies a public prompt into the start form.
import { FEED_LIMIT, readLiveGeneration, watchLiveGenerations } from "../live-feed.js";

import { el, freshRows, place, statusPill, timeLabel, toDate, typeBadge } from "./format.js";
import { errorMessage } from "./messages.js";
import { promptFields, rowResult } from "./outputs.js";

/**
 * @param {import("firebase/firestore").Firestore} db
 * @param {{ list: HTMLElement, note: HTMLElement, typeFilter: HTMLSelectElement,
 *   statusFilter: HTMLSelectElement }} elements
 * @param {{ previews: ReturnType<typeof import("./previews.js").createPreviews>,
 *   onOpen: (id: string, generation: object, row: HTMLElement) => void,
 *   onUsePrompt: (fields: { type: string, engine: string, prompt: string }) => void }} actions
 */
export function createFeed(
  db,
  { list, note, typeFilter, statusFilter },
  { previews, onOpen, onUsePrompt },
) {
  let unsubscribe = null;
  let rows = new Map(); // generation id -> its <li>, reused across snapshots
  let entries = new Map(); // generation id -> its latest entry, for the detail dialog
  // Each row's result element and what it showed, kept across snapshots so an
  // unchanged result is neither drawn nor read again.
  const results = new WeakMap();
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
    entries = new Map();
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
    entries = new Map();
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
      entries.set(generation.id, generation);
    }
    for (const id of entries.keys()) if (!next.has(id)) entries.delete(id);
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

  function fill(row, generation) {
    const created = toDate(generation.createdAt);
    row.dataset.status = generation.status;
    row.dataset.type = generation.type;
    const prompt = generation.hidden
      ? el("p", { class: "prompt private" }, "Hidden by a moderator")
      : generation.prompt === null || generation.prompt === undefined
        ? el("p", { class: "prompt private" }, "Private prompt")
        : el("p", { class: "prompt", title: generation.prompt }, generation.prompt);
    const fields = promptFields(generation);
    const parts = [
      el(
        "div",
        { class: "gen-head" },
        el("span", { class: "user" }, generation.userName ?? "Anonymous creator"),
        typeBadge(generation.type),
        el("span", { class: "engine" }, generation.engine ?? ""),
        generation.batchSize > 1 ? el("span", { class: "batch" }, `×${generation.batchSize}`) : null,
      ),
      prompt,
      result(row, generation),
      el(
        "div",
        { class: "gen-foot" },
        statusPill(generation.status),
        // The public error code says why a generation failed (the message stays private).
        generation.status === "failed" && generation.errorCode
          ? el("span", { class: "error-code", title: "error code" }, generation.errorCode)
          : null,
        fields
          ? el(
              "button",
              {
                type: "button",
                class: "link use-prompt",
                "data-use-prompt": "",
                "aria-label": `Use this prompt: ${fields.prompt}`,
              },
              "Use this prompt",
            )
          : null,
        timeLabel(created),
      ),
    ];
    // replaceChildren would write a null (no result to show) as the text "null".
    row.replaceChildren(...parts.filter(Boolean));
  }

  function result(row, generation) {
    const key = JSON.stringify(rowResult(generation));
    const kept = results.get(row);
    if (kept?.key === key) return kept.node;
    const node = previews.result(row.dataset.generationId, generation);
    results.set(row, { key, node });
    return node;
  }

  // A snapshot's entry carries at most 500 characters of a prompt: the whole
  // generation is read (one document) when its prompt is used or opened.
  async function whole(generation) {
    if (!generation.promptTruncated) return generation;
    return (await readLiveGeneration(db, generation.id).catch(() => null)) ?? generation;
  }

  list.addEventListener("click", async (event) => {
    const row = event.target.closest("[data-generation-id]");
    if (!row || !list.contains(row)) return;
    const generation = entries.get(row.dataset.generationId);
    if (!generation) return;
    if (event.target.closest("[data-use-prompt]")) {
      const fields = promptFields(await whole(generation));
      if (fields) onUsePrompt(fields);
      return;
    }
    if (event.target.closest("button, a")) return;
    onOpen(row.dataset.generationId, await whole(generation), row);
  });
  list.addEventListener("keydown", async (event) => {
    if (event.key !== "Enter" || !event.target.matches("[data-generation-id]")) return;
    const generation = entries.get(event.target.dataset.generationId);
    if (!generation) return;
    event.preventDefault();
    const row = event.target;
    onOpen(row.dataset.generationId, await whole(generation), row);
  });

  typeFilter.addEventListener("change", () => unsubscribe && start());
  statusFilter.addEventListener("change", () => unsubscribe && start());

  return { start, stop };
}

function newRow(id, fresh) {
  // A really new row flashes once, so a change catches the eye.
  // Focusable, so Enter opens its detail as a click does.
  return el("li", {
    class: fresh ? "gen fresh" : "gen",
    "data-generation-id": id,
    tabindex: "0",
  });
}
