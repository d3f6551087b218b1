// The detail dialog of one generation, opened from a feed or history row: what
// it is, who made it, and its outputs (getGenerationOutputs). Its creator also
// sees its cost, from their own record. Escape closes it and focus goes back
// to the row it was opened from.
import { doc, getDoc } from "firebase/firestore";
import { httpsCallable } from "firebase/functions";

import { credits, duration, el, fileSize, toDate, TYPES } from "./format.js";
import { errorMessage } from "./messages.js";
import { altText, outputView } from "./outputs.js";

/**
 * @param {import("firebase/firestore").Firestore} db
 * @param {import("firebase/functions").Functions} functions
 * @param {HTMLDialogElement} dialog
 */
export function createDetail(db, functions, dialog) {
  const getGenerationOutputs = httpsCallable(functions, "getGenerationOutputs");
  const title = dialog.querySelector("#detail-title");
  const facts = dialog.querySelector("#detail-facts");
  const note = dialog.querySelector("#detail-note");
  const outputs = dialog.querySelector("#detail-outputs");
  let uid = null;
  let ticket = 0;
  // Where focus goes back to: the list and id, since a snapshot may have redrawn the row.
  let origin = null;

  dialog.querySelector("#detail-close").addEventListener("click", () => dialog.close());
  // A click on the backdrop lands on the dialog itself, outside its content.
  dialog.addEventListener("click", (event) => event.target === dialog && dialog.close());
  dialog.addEventListener("close", () => {
    ticket += 1;
    // Media keep playing in a closed dialog: stop them with it.
    for (const media of outputs.querySelectorAll("audio, video")) media.pause();
    const back = origin;
    origin = null;
    if (!back) return;
    const row = back.row.isConnected
      ? back.row
      : back.list.querySelector(`[data-generation-id="${CSS.escape(back.id)}"]`);
    row?.focus();
  });

  /**
   * Show a generation. `generation` is the feed entry or, from the history,
   * the owner's record (`own` true); `row` is the row it was opened from.
   */
  function open(id, generation, { own = false, row } = {}) {
    const mine = own || (uid !== null && generation.userId === uid);
    const current = ++ticket;
    origin = row ? { row, list: row.parentElement, id } : null;
    dialog.dataset.generationId = id;
    dialog.dataset.own = String(mine);
    title.textContent = `${TYPES[generation.type]?.label ?? generation.type} generation`;
    renderFacts(generation, {
      mine,
      cost: own ? generation.cost : undefined,
      creator: own ? "You" : undefined,
    });
    outputs.replaceChildren();
    if (!dialog.open) dialog.showModal();
    if (mine && !own) void readOwnRecord(id, generation, current);
    void showOutputs(id, generation, mine, current);
  }

  function renderFacts(generation, { mine, cost, creator }) {
    const hiddenPrompt = generation.hidden
      ? "Hidden by a moderator"
      : generation.prompt === null || generation.prompt === undefined
        ? "Private prompt"
        : null;
    const created = toDate(generation.createdAt);
    const rows = [
      ["Prompt", hiddenPrompt ?? generation.prompt, hiddenPrompt ? "private" : "prompt"],
      ["Type", TYPES[generation.type]?.label ?? generation.type, "type"],
      ["Engine", generation.engine || "default", "engine"],
      ["Status", generation.status, "status"],
      ["Duration", duration(generation.durationMs), "duration"],
      ["Creator", creator ?? generation.userName ?? "Anonymous creator", "creator"],
      ["Created", created ? created.toLocaleString() : "–", "created"],
    ];
    if (generation.batchSize > 1) rows.splice(3, 0, ["Batch", `×${generation.batchSize}`, "batch"]);
    if (mine && generation.visibility) rows.push(["Visibility", generation.visibility, "visibility"]);
    if (mine) rows.push(["Cost", cost === undefined ? "…" : credits(cost), "cost"]);
    facts.replaceChildren(
      ...rows.map(([term, value, key]) =>
        el(
          "div",
          { "data-fact": key },
          el("dt", {}, term),
          el("dd", { class: key === "private" ? "private" : null }, value),
        ),
      ),
    );
  }

  async function readOwnRecord(id, generation, current) {
    try {
      const snapshot = await getDoc(doc(db, "users", uid, "generations", id));
      if (current !== ticket || !snapshot.exists()) return;
      const record = snapshot.data();
      renderFacts({ ...generation, ...record }, { mine: true, cost: record.cost });
    } catch (error) {
      if (current !== ticket) return;
      const cost = facts.querySelector('[data-fact="cost"] dd');
      if (cost) cost.textContent = `Not shown. ${errorMessage(error)}`;
    }
  }

  async function showOutputs(id, generation, mine, current) {
    outputs.replaceChildren();
    const privateEntry = generation.prompt === null || generation.prompt === undefined;
    if (!mine && (generation.hidden || privateEntry)) {
      note.textContent = generation.hidden
        ? "A moderator hid this generation: its outputs are not shown."
        : "This generation is private: only its creator sees its outputs.";
      return;
    }
    if (generation.status !== "completed") {
      note.textContent =
        generation.status === "processing"
          ? "Still generating: the outputs show here once it completes."
          : `No outputs: this generation ${generation.status === "failed" ? "failed" : "was canceled"}.`;
      return;
    }
    note.textContent = "Loading the outputs…";
    delete note.dataset.state;
    try {
      const { data } = await getGenerationOutputs({ generationId: id });
      if (current !== ticket) return;
      const views = (data.outputs ?? []).map(outputView);
      outputs.replaceChildren(...views.map((view, index) => outputElement(view, index, generation)));
      note.textContent = views.length
        ? `${views.length} output${views.length === 1 ? "" : "s"}${expiry(data.expiresAt)}`
        : "This generation has no outputs to show.";
      note.dataset.state = "loaded";
    } catch (error) {
      if (current !== ticket) return;
      note.textContent = `The outputs cannot be shown. ${errorMessage(error)}`;
      note.dataset.state = "error";
    }
  }

  /** Signed in as someone else, or signed out: the dialog keeps nothing of before. */
  function setUser(user) {
    uid = user?.uid ?? null;
    if (dialog.open) {
      origin = null;
      dialog.close();
    }
    facts.replaceChildren();
    outputs.replaceChildren();
    note.textContent = "";
  }

  return { open, setUser };
}

function expiry(expiresAt) {
  const date = toDate(expiresAt);
  return date ? ` · links valid until ${date.toLocaleTimeString("en-GB", { hour12: false })}` : "";
}

function outputElement(view, index, generation) {
  const label = `Output ${index + 1}`;
  const details = [
    view.contentType,
    fileSize(view.bytes),
    view.durationMs ? duration(view.durationMs) : "",
  ]
    .filter(Boolean)
    .join(" · ");
  let body;
  switch (view.kind) {
    case "image":
      body = el("img", {
        src: view.url,
        alt: altText(generation),
        width: view.width,
        height: view.height,
        decoding: "async",
      });
      break;
    case "video":
      body = el("video", { src: view.url, controls: true, preload: "metadata", "aria-label": label });
      break;
    case "audio":
      body = el("audio", { src: view.url, controls: true, preload: "metadata", "aria-label": label });
      break;
    case "text":
      body = el("pre", { tabindex: "0", "aria-label": label }, view.text);
      break;
    case "file":
      body = el(
        "a",
        { href: view.url, target: "_blank", rel: "noopener noreferrer" },
        `Open ${label.toLowerCase()}`,
      );
      break;
    default:
      body = el("p", { class: "private" }, "This output cannot be shown here.");
  }
  return el(
    "figure",
    { class: `output output-${view.kind}`, "data-output": view.kind },
    body,
    el("figcaption", {}, details ? `${label} · ${details}` : label),
  );
}
