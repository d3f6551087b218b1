// Runs web/live-feed.js in Node against the emulators, as a web client would,
// and prints every snapshot as one JSON line on stdout:
//   {"ids": [...], "docs": [{"id": ..., <every field, Timestamps as ISO strings>}, ...]}
// A refused listener prints {"error": "<code>"} and exits 2. The probe stops
// (exit 0) when its stdin closes or after --timeout-s seconds.
//
//   node tests/e2e/listener_probe.mjs --auth 127.0.0.1:9099 --firestore 127.0.0.1:8080 \
//     --project demo-generations-live [--type image] [--status completed] [--signed-out] \
//     [--query]   (the query listener instead of the view's snapshot)
import { parseArgs } from "node:util";

import { initializeApp } from "firebase/app";
import { connectAuthEmulator, getAuth, signInAnonymously } from "firebase/auth";
import {
  Timestamp,
  connectFirestoreEmulator,
  getFirestore,
  terminate,
} from "firebase/firestore";

import { watchLiveGenerations, watchLiveGenerationsQuery } from "../../web/live-feed.js";

const { values: options } = parseArgs({
  options: {
    auth: { type: "string" },
    firestore: { type: "string" },
    project: { type: "string" },
    type: { type: "string" },
    status: { type: "string" },
    "signed-out": { type: "boolean", default: false },
    query: { type: "boolean", default: false },
    "timeout-s": { type: "string", default: "120" },
  },
});
for (const required of ["auth", "firestore", "project"]) {
  if (!options[required]) {
    process.stderr.write(`listener_probe: --${required} is required\n`);
    process.exit(64);
  }
}

function emit(line) {
  // Writes to a pipe are synchronous in Node on Linux: each line leaves at once.
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

function plain(generation) {
  return Object.fromEntries(
    Object.entries(generation).map(([field, value]) => [
      field,
      value instanceof Timestamp ? value.toDate().toISOString() : value,
    ]),
  );
}

function hostAndPort(address) {
  const at = address.lastIndexOf(":");
  return [address.slice(0, at), Number(address.slice(at + 1))];
}

const app = initializeApp({ projectId: options.project, apiKey: "demo-api-key" });
const auth = getAuth(app);
connectAuthEmulator(auth, `http://${options.auth}`, { disableWarnings: true });
const db = getFirestore(app);
connectFirestoreEmulator(db, ...hostAndPort(options.firestore));

let unsubscribe = () => {};
async function stop(code) {
  unsubscribe();
  await terminate(db);
  process.exit(code);
}

if (!options["signed-out"]) {
  try {
    await signInAnonymously(auth);
  } catch (error) {
    emit({ error: error.code ?? String(error), stage: "sign-in" });
    process.exit(3);
  }
}

const filter = { type: options.type, status: options.status };
const watch = options.query ? watchLiveGenerationsQuery : watchLiveGenerations;
unsubscribe = watch(
  db,
  filter,
  (generations) => {
    emit({
      ids: generations.map((generation) => generation.id),
      docs: generations.map(plain),
    });
  },
  (error) => {
    emit({ error: error.code ?? String(error), message: error.message });
    void stop(2);
  },
);

process.stdin.on("end", () => void stop(0));
process.stdin.resume();
setTimeout(() => void stop(0), Number(options["timeout-s"]) * 1000);
