// The credits the page shows. Pure: no DOM, no SDK.
//
// The figures come from the latest quoteGeneration answer when there is one,
// because that is what a generation will use: it counts today's free credits,
// which the backend adds to the billing document only with the day's first
// generation. Until a quote arrives the billing document's own figures show.

import { count } from "./format.js";

/**
 * @param {{balance?: number, held?: number} | null} account the billing document, if any
 * @param {{balance: number, held: number, available: number,
 *   freeCredits?: {qualifies: boolean, reason: string | null, dailyFloor: number,
 *   overdraftAllowance: number}} | null} quote the latest quote, if any
 * @returns {{balance: number | null, held: number | null, available: number | null, note: string}}
 */
export function creditView(account, quote) {
  if (quote) {
    return {
      balance: quote.balance,
      held: quote.held,
      available: quote.available,
      note: creditNote(account, quote),
    };
  }
  if (!account) return { balance: null, held: null, available: null, note: "" };
  const balance = account.balance ?? 0;
  const held = account.held ?? 0;
  return { balance, held, available: balance - held, note: "" };
}

/**
 * A sentence about free credits: why the account gets none, or which of the
 * shown credits are today's free ones, not yet on the billing document.
 * Works with answers that carry no `freeCredits` too.
 */
export function creditNote(account, quote) {
  if (!quote) return "";
  const free = quote.freeCredits ?? null;
  if (free && !free.qualifies) {
    return free.reason || "This account gets no free credits.";
  }
  const pending = Math.max(0, (quote.balance ?? 0) - (account?.balance ?? 0));
  if (pending > 0) {
    return (
      `Includes ${count(pending)} free credit${pending === 1 ? "" : "s"} for today, added to ` +
      `your balance with your first generation of the day.`
    );
  }
  return "";
}
