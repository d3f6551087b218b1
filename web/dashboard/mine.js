// "My generations": the signed-in user's credits (their own billing/{uid}
// document, live), the price of a generation before starting it
// (quoteGeneration), the form that starts it (trackGeneration), and their own
// history (users/{uid}/generations, newest first, live) with "Load more", a
// cancel button on what is still processing (updateGenerationStatus), each
// entry's result (previews.js) and "Regenerate" on what has finished.
import {
  collection,
  doc,
  endAt,
  getDocs,
  limit,
  onSnapshot,
  orderBy,
  query,
  startAfter,
  where,
} from "firebase/firestore";
import { httpsCallable } from "firebase/functions";

import { creditView } from "./credits.js";
import { count, credits, el, statusPill, timeLabel, toDate, typeBadge } from "./format.js";
import { errorMessage } from "./messages.js";
import { regenerateRequest } from "./outputs.js";

/** History entries per page. */
export const HISTORY_PAGE = 10;
// A failed quote (say a cold function worker that hung up) is asked once more after this.
const QUOTE_RETRY_MS = 2000;

/**
 * @param {import("firebase/firestore").Firestore} db
 * @param {import("firebase/functions").Functions} functions
 * @param {{ previews: ReturnType<typeof import("./previews.js").createPreviews>,
 *   onOpen: (id: string, generation: object, row: HTMLElement) => void }} actions
 */
export function createMine(db, functions, { previews, onOpen }, root = document) {
  const quoteGeneration = httpsCallable(functions, "quoteGeneration");
  const trackGeneration = httpsCallable(functions, "trackGeneration");
  const updateGenerationStatus = httpsCallable(functions, "updateGenerationStatus");

  const form = root.getElementById("start");
  const quoteLine = root.getElementById("quote");
  const startButton = root.getElementById("start-button");
  const startMessage = root.getElementById("start-message");
  const list = root.getElementById("history");
  const historyNote = root.getElementById("history-note");
  const historyType = root.getElementById("history-type");
  const loadMoreButton = root.getElementById("load-more");

  let user = null;
  // The billing document and the latest quote, from which the credits show (credits.js).
  let account = null;
  let lastQuote = null;
  let stopBilling = null;
  let stopHistory = null;
  let quoteTicket = 0;
  let startTicket = 0;
  // The history is one listener from the newest entry down to `oldestLoaded`
  // (the first page: the newest HISTORY_PAGE). "Load more" finds the next page
  // with startAfter and moves the end of the listener there, so every entry
  // shown stays live and no entry falls between two pages.
  let oldestLoaded = null;
  let shown = [];
  let hasMore = false;

  function setUser(next) {
    stopBilling?.();
    stopHistory?.();
    stopBilling = stopHistory = null;
    const changed = (user?.uid ?? null) !== (next?.uid ?? null);
    user = next;
    root.getElementById("mine").dataset.uid = user?.uid ?? "";
    if (changed) forget();
    if (!user) {
      renderHistory();
      return;
    }
    const uid = user.uid;
    stopBilling = onSnapshot(
      doc(db, "billing", uid),
      (snapshot) => {
        if (user?.uid !== uid) return;
        account = snapshot.data() ?? null;
        renderCredits();
        void refreshQuote(); // the balance moved: so did what a generation leaves
      },
      (error) => renderCreditsError(error),
    );
    resetHistory();
  }

  /** Clear everything of the previous user: credits, quote, messages, history. */
  function forget() {
    quoteTicket += 1; // a quote on its way is dropped
    startTicket += 1; // so is the answer to a start
    account = lastQuote = null;
    renderCredits();
    quoteLine.replaceChildren();
    delete quoteLine.dataset.cost;
    delete quoteLine.dataset.canAfford;
    startMessage.textContent = "";
    delete startMessage.dataset.generationId;
    delete startMessage.dataset.regeneratedFrom;
    startButton.disabled = false;
    form.reset();
    shown = [];
    oldestLoaded = null;
    hasMore = false;
    list.replaceChildren();
  }

  // --- credits --------------------------------------------------------------

  /** Balance, held and available as the quote will use them, and a note on free credits. */
  function renderCredits() {
    const view = creditView(account, lastQuote);
    root.getElementById("credits").dataset.loaded = String(view.balance !== null);
    root.getElementById("credits").dataset.source = lastQuote ? "quote" : account ? "account" : "";
    root.querySelector('[data-credit="balance"]').textContent = count(view.balance);
    root.querySelector('[data-credit="held"]').textContent = count(view.held);
    root.querySelector('[data-credit="available"]').textContent = count(view.available);
    const note = root.getElementById("credits-note");
    note.textContent = view.note;
    note.hidden = !view.note;
  }

  function renderCreditsError(error) {
    root.querySelector('[data-credit="balance"]').textContent = "–";
    startMessage.textContent = `Your credits cannot be shown. ${errorMessage(error)}`;
  }

  // --- quote and start -----------------------------------------------------------

  function request() {
    const data = new FormData(form);
    return {
      type: String(data.get("type")),
      batchSize: Number(data.get("batchSize")),
      prompt: String(data.get("prompt") ?? ""),
      engine: String(data.get("engine") ?? "").trim(),
      visibility: data.get("private") ? "private" : "public",
    };
  }

  async function refreshQuote(retry = true) {
    if (!user) return;
    const ticket = ++quoteTicket;
    const { type, batchSize } = request();
    try {
      const { data: quote } = await quoteGeneration({ type, batchSize });
      if (ticket !== quoteTicket) return;
      lastQuote = quote;
      renderCredits();
      quoteLine.dataset.cost = String(quote.cost);
      quoteLine.dataset.canAfford = String(quote.canAfford);
      quoteLine.replaceChildren(...quoteText(quote));
      startButton.disabled = !quote.canAfford;
    } catch (error) {
      if (ticket !== quoteTicket) return;
      quoteLine.textContent = `No price yet. ${errorMessage(error)}`;
      if (retry) {
        setTimeout(() => ticket === quoteTicket && void refreshQuote(false), QUOTE_RETRY_MS);
      }
    }
  }

  function quoteText(quote) {
    const cost = el("strong", { class: "quote-cost" }, credits(quote.cost));
    const available = `${count(quote.available)} available`;
    if (!quote.canAfford) {
      return [cost, ` · only ${available}: not enough credits`];
    }
    if (quote.softBlocked) {
      return [cost, ` · ${available}: goes through on the overdraft (${count(quote.remainingAfter)} after)`];
    }
    return [cost, ` · ${available} · ${count(quote.remainingAfter)} left after`];
  }

  form.addEventListener("change", (event) => {
    if (event.target.name === "type" || event.target.name === "batchSize") void refreshQuote();
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!user) return;
    const { type, batchSize, prompt, engine, visibility } = request();
    const data = { type, batchSize, prompt, visibility, requestId: `web-${crypto.randomUUID()}` };
    if (engine) data.engine = engine;
    startButton.disabled = true;
    startMessage.textContent = "Starting…";
    delete startMessage.dataset.generationId;
    delete startMessage.dataset.regeneratedFrom;
    const ticket = ++startTicket;
    try {
      const { data: started } = await trackGeneration(data);
      if (ticket !== startTicket) return; // signed out meanwhile
      startMessage.dataset.generationId = started.generationId;
      startMessage.textContent =
        `Started: ${credits(started.cost)} held, ${count(started.available)} available` +
        (started.warning ? ` (low on credits: ${count(started.warning.shortfall)} short)` : "");
      form.elements.prompt.value = "";
    } catch (error) {
      if (ticket !== startTicket) return;
      startMessage.textContent = errorMessage(error);
    } finally {
      if (ticket === startTicket) {
        startButton.disabled = false;
        void refreshQuote();
      }
    }
  });

  // --- history -----------------------------------------------------------------------

  function historyQuery(...bounds) {
    const filters = historyType.value ? [where("type", "==", historyType.value)] : [];
    return query(
      collection(db, "users", user.uid, "generations"),
      ...filters,
      orderBy("createdAt", "desc"),
      ...bounds,
    );
  }

  function resetHistory() {
    oldestLoaded = null;
    shown = [];
    hasMore = false;
    list.replaceChildren();
    historyNote.textContent = "Loading your generations…";
    watchHistory();
  }

  function watchHistory() {
    stopHistory?.();
    const uid = user.uid;
    const bounded = oldestLoaded
      ? historyQuery(endAt(oldestLoaded))
      : historyQuery(limit(HISTORY_PAGE));
    stopHistory = onSnapshot(
      bounded,
      (snapshot) => {
        if (user?.uid !== uid) return;
        shown = snapshot.docs;
        if (!oldestLoaded) hasMore = snapshot.size === HISTORY_PAGE;
        renderHistory();
      },
      (error) => {
        historyNote.textContent = `Your generations cannot be shown. ${errorMessage(error)}`;
      },
    );
  }

  async function loadMore() {
    const last = shown[shown.length - 1];
    if (!user || !last) return;
    loadMoreButton.disabled = true;
    try {
      const page = await getDocs(historyQuery(startAfter(last), limit(HISTORY_PAGE)));
      hasMore = page.size === HISTORY_PAGE;
      if (page.empty) {
        renderHistory();
      } else {
        oldestLoaded = page.docs[page.size - 1];
        watchHistory();
      }
    } catch (error) {
      historyNote.textContent = `No more could be loaded. ${errorMessage(error)}`;
    } finally {
      loadMoreButton.disabled = false;
    }
  }

  function renderHistory() {
    list.replaceChildren(...shown.map((snapshot) => historyRow(snapshot.id, snapshot.data())));
    loadMoreButton.hidden = !hasMore;
    const filter = historyType.value ? ` ${historyType.value}` : "";
    historyNote.textContent = shown.length
      ? `Showing your ${shown.length} newest${filter} generation${shown.length === 1 ? "" : "s"}`
      : user
        ? `No${filter} generations yet: start one above.`
        : "Sign in to see your generations.";
  }

  function historyRow(id, generation) {
    const processing = generation.status === "processing";
    const cancel = processing
      ? el("button", { type: "button", class: "cancel", "data-cancel": id }, "Cancel")
      : null;
    cancel?.addEventListener("click", () => void cancelGeneration(id, cancel));
    const again = processing
      ? null
      : el(
          "button",
          {
            type: "button",
            class: "secondary regenerate",
            "data-regenerate": id,
            "aria-label": `Regenerate: ${generation.prompt ?? "this generation"}`,
          },
          "Regenerate",
        );
    again?.addEventListener("click", () => void regenerate(id, generation, again));
    return el(
      "li",
      {
        class: "gen mine-gen",
        "data-generation-id": id,
        "data-status": generation.status,
        // Focusable, so Enter opens its detail as a click does.
        tabindex: "0",
      },
      el(
        "div",
        { class: "gen-head" },
        typeBadge(generation.type),
        el("span", { class: "engine" }, generation.engine ?? ""),
        generation.batchSize > 1 ? el("span", { class: "batch" }, `×${generation.batchSize}`) : null,
        generation.visibility === "private" ? el("span", { class: "tag" }, "private") : null,
        el("span", { class: "cost", "data-cost": generation.cost }, credits(generation.cost)),
      ),
      el("p", { class: "prompt", title: generation.prompt }, generation.prompt ?? ""),
      previews.result(id, generation),
      el(
        "div",
        { class: "gen-foot" },
        statusPill(generation.status),
        generation.errorCode ? el("span", { class: "error-code" }, generation.errorCode) : null,
        timeLabel(toDate(generation.createdAt)),
        cancel,
        again,
      ),
    );
  }

  /** Start the generation again, as it was asked for, linked to the one it repeats. */
  async function regenerate(id, generation, button) {
    if (!user) return;
    button.disabled = true;
    startMessage.textContent = "Starting again…";
    delete startMessage.dataset.generationId;
    delete startMessage.dataset.regeneratedFrom;
    const ticket = ++startTicket;
    try {
      const { data: started } = await trackGeneration(regenerateRequest(generation, id));
      if (ticket !== startTicket) return;
      startMessage.dataset.generationId = started.generationId;
      startMessage.dataset.regeneratedFrom = id;
      startMessage.textContent =
        `Started again: ${credits(started.cost)} held, ${count(started.available)} available` +
        (started.warning ? ` (low on credits: ${count(started.warning.shortfall)} short)` : "");
    } catch (error) {
      if (ticket !== startTicket) return;
      startMessage.textContent = `It was not started again. ${errorMessage(error)}`;
    } finally {
      if (button.isConnected) button.disabled = false;
      if (ticket === startTicket) void refreshQuote();
    }
  }

  /** Put a prompt from the feed into the form, to change or start as it is: nothing starts. */
  function usePrompt({ type, engine, prompt }) {
    if (form.elements.type.querySelector(`option[value="${CSS.escape(type)}"]`)) {
      form.elements.type.value = type;
    }
    form.elements.engine.value = engine;
    form.elements.prompt.value = prompt;
    startMessage.textContent = "The prompt is in the form: change it or press Generate.";
    delete startMessage.dataset.generationId;
    void refreshQuote();
    form.elements.prompt.focus();
  }

  function historyEntry(target) {
    const row = target.closest("[data-generation-id]");
    if (!row || !list.contains(row)) return null;
    const snapshot = shown.find((entry) => entry.id === row.dataset.generationId);
    return snapshot ? { row, id: snapshot.id, generation: snapshot.data() } : null;
  }

  list.addEventListener("click", (event) => {
    if (event.target.closest("button, a")) return;
    const entry = historyEntry(event.target);
    if (entry) onOpen(entry.id, entry.generation, entry.row);
  });
  list.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || !event.target.matches("[data-generation-id]")) return;
    const entry = historyEntry(event.target);
    if (!entry) return;
    event.preventDefault();
    onOpen(entry.id, entry.generation, entry.row);
  });

  async function cancelGeneration(id, button) {
    button.disabled = true;
    button.textContent = "Canceling…";
    try {
      await updateGenerationStatus({ generationId: id, status: "canceled" });
      // The listener redraws the entry as canceled, and the billing listener
      // shows the released hold.
    } catch (error) {
      button.disabled = false;
      button.textContent = "Cancel";
      startMessage.textContent = `The generation was not canceled. ${errorMessage(error)}`;
    }
  }

  historyType.addEventListener("change", () => user && resetHistory());
  loadMoreButton.addEventListener("click", () => void loadMore());

  return { setUser, usePrompt };
}
