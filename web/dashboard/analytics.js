// The metric cards, the statistics panel and the freshness line, from
// getGenerationAnalytics({days}). The numbers come from rollups that move every
// few minutes in production (every 30 s locally), so the page asks again on a
// timer, but only while the tab is visible (Page Visibility API): a hidden tab
// costs nothing, and showing it again refreshes at once.
import { httpsCallable } from "firebase/functions";

import { CARD_TYPES, clock, count, el, percent, relativeTime, shares, toDate } from "./format.js";
import { errorMessage } from "./messages.js";

// After a failed call (say a cold function worker that hung up) ask again sooner.
const RETRY_MS = 2000;

function visible() {
  return document.visibilityState === "visible";
}

/**
 * @param {import("firebase/functions").Functions} functions
 * @param {{ refreshMs: number, root: Document }} options
 */
export function createAnalytics(functions, { refreshMs, root = document }) {
  const call = httpsCallable(functions, "getGenerationAnalytics");
  let days = 7;
  let running = false;
  let timer = null;
  let asked = 0;
  let lastAnswer = null;
  let lastRefresh = null;

  /** Ask once; true when the page shows a fresh answer. */
  async function refresh() {
    const ticket = ++asked; // a slower answer for another window must not win
    try {
      const { data } = await call({ days });
      if (ticket !== asked || !running) return true;
      lastAnswer = data;
      lastRefresh = new Date();
      render(root, data);
      renderFreshness(root, data, lastRefresh);
      return true;
    } catch (error) {
      if (ticket === asked && running) {
        root.getElementById("freshness").textContent = `Analytics are unavailable. ${errorMessage(error)}`;
      }
      return false;
    }
  }

  // Each (re)start of the refresh loop gets a number; a superseded loop ends itself.
  let loop = 0;

  async function run(number) {
    const fresh = await refresh();
    if (number !== loop || !running || !visible()) return;
    timer = setTimeout(() => run(number), fresh ? refreshMs : Math.min(refreshMs, RETRY_MS));
  }

  /** Stop the timer (hidden tab, signed out). */
  function pause() {
    clearTimeout(timer);
    timer = null;
    loop += 1;
  }

  /** Refresh now, then on the timer, if the page is signed in and visible. */
  function restart() {
    pause();
    if (running && visible()) void run(loop);
  }

  document.addEventListener("visibilitychange", () => (visible() ? restart() : pause()));

  return {
    /** Start refreshing (the caller is signed in: the callable needs it). */
    start() {
      running = true;
      restart();
    },
    /** Stop, and show nothing of the last answer (signed out: it may name the last user). */
    stop() {
      running = false;
      asked += 1; // an answer on its way is dropped
      pause();
      lastAnswer = lastRefresh = null;
      clear(root);
    },
    /** Show another window (7, 30 or 90 days) now. */
    setDays(value) {
      days = value;
      restart();
    },
    /** Keep "N s ago" current between answers. */
    tickClock() {
      if (lastAnswer) renderFreshness(root, lastAnswer, lastRefresh);
    },
  };
}

function setText(root, selector, text) {
  for (const node of root.querySelectorAll(selector)) node.textContent = text;
}

function render(root, answer) {
  const byType = answer.byType ?? {};
  const byStatus = answer.byStatus ?? {};
  const total = answer.total ?? 0;
  const counts = CARD_TYPES.map((type) => byType[type] ?? 0);
  // Whole percentages that add up to exactly 100 across the cards.
  const percents = shares(counts);
  CARD_TYPES.forEach((type, index) => {
    setText(root, `[data-metric="${type}"] .value`, count(counts[index]));
    const card = root.querySelector(`[data-metric="${type}"]`);
    if (card) card.dataset.share = String(percents[index]);
    const share = counts.some(Boolean) ? ` · ${percents[index]}% of all` : "";
    setText(root, `[data-metric="${type}"] .sub`, `in ${answer.days} days${share}`);
  });
  setText(root, '[data-metric="successRate"] .value', percent(answer.successRate));
  setText(
    root,
    '[data-metric="successRate"] .sub',
    `${count(byStatus.completed ?? 0)} completed · ${count(byStatus.failed ?? 0)} failed`,
  );

  setText(root, '[data-stat="total"]', count(total));
  for (const status of ["completed", "processing", "failed", "canceled"]) {
    setText(root, `[data-stat="${status}"]`, count(byStatus[status] ?? 0));
  }
  setText(root, '[data-stat="activeUsers"]', count(answer.activeUsers ?? 0));
  setText(root, "[data-window-days]", String(answer.days));

  const leaders = root.getElementById("top-users");
  const top = answer.topUsers ?? [];
  // Names only: the rollups carry no emails, and the page would not show one anyway.
  leaders.replaceChildren(
    ...(top.length
      ? top.map((user) =>
          el(
            "li",
            { "data-user-id": user.userId },
            el("span", { class: "leader-name" }, user.userName ?? "Anonymous creator"),
            el("span", { class: "leader-count" }, count(user.count)),
          ),
        )
      : [el("li", { class: "empty" }, "No generations in this window yet.")]),
  );
}

/** Dashes everywhere, as before the first answer. */
function clear(root) {
  setText(root, ".card .value", "–");
  setText(root, ".card .sub", "\u00a0");
  for (const card of root.querySelectorAll(".card[data-share]")) delete card.dataset.share;
  setText(root, "[data-stat]", "–");
  root.getElementById("top-users").replaceChildren();
  const line = root.getElementById("freshness");
  line.dataset.asOf = "";
  line.textContent = "Sign in to see the analytics.";
}

function renderFreshness(root, answer, refreshedAt) {
  const asOf = toDate(answer.asOf);
  const line = root.getElementById("freshness");
  line.dataset.asOf = answer.asOf ?? "";
  line.textContent = asOf
    ? `Rollups complete up to ${clock(asOf)} (${relativeTime(asOf)}) · refreshed ${clock(refreshedAt)}`
    : `No rollup has run yet · refreshed ${clock(refreshedAt)}`;
}
