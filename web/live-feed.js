// Watch the public feed of generations as it changes (Firebase JS SDK v12).
import { collection, limit, onSnapshot, orderBy, query, where } from "firebase/firestore";

/** How many entries the feed shows, newest first. */
export const FEED_LIMIT = 50;

/**
 * Listen to the newest public generations, optionally only one type or status.
 * Entries carry no private data: `prompt` is null for private generations.
 *
 * @param {import("firebase/firestore").Firestore} db
 * @param {{ type?: string, status?: string }} [filter] equality filters
 * @param {(generations: Array<{ id: string } & import("firebase/firestore").DocumentData>) => void} onChange
 *   called with the whole list each time it changes
 * @param {(error: import("firebase/firestore").FirestoreError) => void} [onError]
 *   called once if the listener is refused (e.g. `permission-denied` when signed out)
 * @returns {import("firebase/firestore").Unsubscribe} call it to stop listening
 */
export function watchLiveGenerations(db, { type, status } = {}, onChange, onError) {
  const filters = [];
  if (type) filters.push(where("type", "==", type));
  if (status) filters.push(where("status", "==", status));
  const feed = query(
    collection(db, "live_generations"),
    ...filters,
    orderBy("createdAt", "desc"),
    limit(FEED_LIMIT),
  );
  return onSnapshot(
    feed,
    (snapshot) => onChange(snapshot.docs.map((doc) => ({ id: doc.id, ...doc.data() }))),
    onError,
  );
}
