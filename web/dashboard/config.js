// Where the dashboard finds its Firebase project.
//
// Locally (scripts/dev.sh, the tests) the emulator harness writes `config.json`
// next to the page with the project and the emulators' addresses, so suites on
// free ports work. Deployed to Firebase Hosting there is no such file and the
// page takes the project from Hosting's reserved `/__/firebase/init.json`.
//
// config.json:
//   {"firebase": {"projectId", "apiKey", ...}, "region": "us-central1",
//    "emulators": {"auth": {"host", "port"}, "firestore": {...}, "functions": {...}},
//    "analyticsRefreshSeconds": 10}
// Query parameter: `?refresh=SECONDS` overrides how often analytics refresh.

const DEFAULT_REFRESH_SECONDS = 10;
const DEFAULT_REGION = "us-central1";

async function fetchJson(url) {
  try {
    const reply = await fetch(url, { cache: "no-store" });
    return reply.ok ? await reply.json() : null;
  } catch {
    return null;
  }
}

/**
 * @returns {Promise<{firebase: object, region: string, emulators: object | null,
 *   local: boolean, analyticsRefreshMs: number}>}
 */
export async function loadConfig(location = window.location) {
  const local = await fetchJson(new URL("config.json", location.href));
  const config = local ?? { firebase: await fetchJson("/__/firebase/init.json") };
  if (!config.firebase?.projectId) {
    throw new Error("no Firebase configuration: neither config.json nor /__/firebase/init.json");
  }
  const asked = Number(new URLSearchParams(location.search).get("refresh"));
  const seconds = asked > 0 ? asked : (config.analyticsRefreshSeconds ?? DEFAULT_REFRESH_SECONDS);
  return {
    firebase: config.firebase,
    region: config.region ?? DEFAULT_REGION,
    emulators: config.emulators ?? null,
    local: Boolean(config.emulators),
    analyticsRefreshMs: seconds * 1000,
  };
}
