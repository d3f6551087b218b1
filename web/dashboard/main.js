// The Generations Live dashboard: a reference web client of the backend.
// Everything it shows comes from the public surface: the realtime listener on
// live_generations (web/live-feed.js), the user's own documents, and the callables.
import { initializeApp } from "firebase/app";
import { connectAuthEmulator, getAuth } from "firebase/auth";
import { connectFirestoreEmulator, getFirestore } from "firebase/firestore";
import { connectFunctionsEmulator, getFunctions } from "firebase/functions";

import { createAccount } from "./account.js";
import { createAnalytics } from "./analytics.js";
import { createBell } from "./bell.js";
import { loadConfig } from "./config.js";
import { createDetail } from "./detail.js";
import { createFeed } from "./feed.js";
import { CARD_TYPES, refreshTimes, typeCard, typeOptions } from "./format.js";
import { createMine } from "./mine.js";
import { createPreviews } from "./previews.js";

const CLOCK_TICK_MS = 5000;
// The selects that choose a type; the types go after what index.html puts first ("All").
const TYPE_SELECTS = ["feed-type", "start-type", "history-type"];

/** What index.html leaves to TYPES: the type options of its selects and the cards of the types. */
function renderTypes(root) {
  for (const id of TYPE_SELECTS) root.getElementById(id).append(...typeOptions());
  root.querySelector('[data-metric="successRate"]').before(...CARD_TYPES.map(typeCard));
}

async function main() {
  // First, so the page is whole even when the configuration cannot be found.
  renderTypes(document);
  const config = await loadConfig();
  const app = initializeApp(config.firebase);
  const auth = getAuth(app);
  const db = getFirestore(app);
  const functions = getFunctions(app, config.region);
  if (config.emulators) {
    const { auth: authAt, firestore: firestoreAt, functions: functionsAt } = config.emulators;
    connectAuthEmulator(auth, `http://${authAt.host}:${authAt.port}`, { disableWarnings: true });
    connectFirestoreEmulator(db, firestoreAt.host, firestoreAt.port);
    connectFunctionsEmulator(functions, functionsAt.host, functionsAt.port);
  }
  document.body.dataset.mode = config.local ? "local" : "hosted";

  const analytics = createAnalytics(functions, { refreshMs: config.analyticsRefreshMs });
  const previews = createPreviews(db);
  const detail = createDetail(db, functions, document.getElementById("detail"));
  const mine = createMine(db, functions, {
    previews,
    onOpen: (id, generation, row) => detail.open(id, generation, { own: true, row }),
  });
  const bell = createBell(db, functions, {
    onOpenGeneration: (id, generation, row) => detail.open(id, generation, { own: true, row }),
  });
  const feed = createFeed(
    db,
    {
      list: document.getElementById("feed-list"),
      note: document.getElementById("feed-note"),
      typeFilter: document.getElementById("feed-type"),
      statusFilter: document.getElementById("feed-status"),
    },
    {
      previews,
      onOpen: (id, generation, row) => detail.open(id, generation, { row }),
      onUsePrompt: (fields) => mine.usePrompt(fields),
    },
  );

  for (const button of document.querySelectorAll("[data-days]")) {
    button.addEventListener("click", () => {
      for (const other of document.querySelectorAll("[data-days]")) {
        other.setAttribute("aria-pressed", String(other === button));
      }
      analytics.setDays(Number(button.dataset.days));
    });
  }

  createAccount(auth, {
    local: config.local,
    onUser(user) {
      // Images read for the previous user, and the dialog, keep nothing of them.
      previews.forget();
      detail.setUser(user);
      mine.setUser(user);
      bell.setUser(user);
      if (user) {
        feed.start();
        analytics.start();
      } else {
        feed.stop();
        analytics.stop();
      }
    },
  });

  setInterval(() => {
    refreshTimes(document);
    analytics.tickClock();
  }, CLOCK_TICK_MS);
}

main().catch((error) => {
  const banner = document.getElementById("fatal");
  banner.hidden = false;
  banner.textContent = `The dashboard could not start: ${error.message ?? error}`;
});
