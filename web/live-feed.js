// Watch the public feed of generations as it changes (Firebase JS SDK v12).
import {
  collection,
  doc,
  getDoc,
  limit,
  onSnapshot,
  orderBy,
  query,
  where,
} from "firebase/firestore";

/** How many entries the feed shows, newest first. */
export const FEED_LIMIT = 50;

/**
 * The snapshot document of one view of the feed: `all`, `type-image`,
 * `status-completed`, `type-image-status-completed` (the backend's
 * domain/feed_views.py names them the same way).
 *
 * @param {{ type?: string, status?: string }} [filter]
 */
export function feedViewId({ type, status } = {}) {
  const parts = [];
  if (type) parts.push(`type-${type}`);
  if (status) parts.push(`status-${status}`);
  return parts.join("-") || "all";
}

/**
 * Listen to the newest public generations, optionally only one type or status,
 * through the view's snapshot: one document the backend rewrites at most once
 * a second, so a viewer pays at most one read a second however busy the
 * platform is. Entries carry no private data: `prompt` is null for private
 * generations, and a prompt over 500 characters is cut (`promptTruncated`;
 * `readLiveGeneration` has the whole of it).
 *
 * @param {import("firebase/firestore").Firestore} db
 * @param {{ type?: string, status?: string }} [filter] equality filters
 * @param {(generations: Array<{ id: string } & import("firebase/firestore").DocumentData>) => void} onChange
 *   called with the whole list each time it changes
 * @param {(error: import("firebase/firestore").FirestoreError) => void} [onError]
 *   called once if the listener is refused (e.g. `permission-denied` when signed out)
 * @returns {import("firebase/firestore").Unsubscribe} call it to stop listening
 */
export function watchLiveGenerations(db, filter, onChange, onError) {
  return onSnapshot(
    doc(db, "feed_snapshots", feedViewId(filter)),
    (snapshot) => onChange(snapshot.exists() ? (snapshot.get("entries") ?? []) : []),
    onError,
  );
}

/**
 * The simple alternative for small platforms: the same list from a query
 * listener on the feed itself. It is billed a read for every generation that
 * enters, changes in or leaves the 50 newest (about 3 per generation), per
 * viewer, so its cost grows with the traffic (docs/benchmarks.md).
 *
 * @param {import("firebase/firestore").Firestore} db
 * @param {{ type?: string, status?: string }} [filter]
 * @param {(generations: Array<{ id: string } & import("firebase/firestore").DocumentData>) => void} onChange
 * @param {(error: import("firebase/firestore").FirestoreError) => void} [onError]
 * @returns {import("firebase/firestore").Unsubscribe}
 */
export function watchLiveGenerationsQuery(db, { type, status } = {}, onChange, onError) {
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

/**
 * One feed entry whole (a snapshot's entry may carry a cut prompt).
 *
 * @param {import("firebase/firestore").Firestore} db
 * @param {string} id
 */
export async function readLiveGeneration(db, id) {
  const snapshot = await getDoc(doc(db, "live_generations", id));
  return snapshot.exists() ? { id: snapshot.id, ...snapshot.data() } : null;
}
