// What the page says when something is refused: one short sentence for people,
// never a validator's wording, an HTTP status or a Firebase error code. Pure
// functions of the error (no DOM, no SDK), so they are tested on their own.

const DEFAULT_MESSAGE = "Something went wrong. Please try again.";

/** One sentence per callable (and Firestore) error code. */
const CODE_MESSAGES = {
  "invalid-argument": "Please check the form and try again.",
  unauthenticated: "Your session has ended. Please sign in again.",
  "permission-denied": "Your account is not allowed to do that.",
  "failed-precondition": "That cannot be done right now.",
  "resource-exhausted": "You have reached a limit. Please try again later.",
  "not-found": "That generation no longer exists.",
  aborted: "Many changes arrived at once. Please try again.",
  "already-exists": "That was already done.",
  internal: "Something went wrong on our side. Please try again in a moment.",
  unavailable: "The service cannot be reached right now. Check your connection and try again.",
  "deadline-exceeded": "The service took too long to answer. Please try again.",
  cancelled: "The request was canceled. Please try again.",
};

/** One sentence per request field the page sends (the `field` of `invalid-argument`). */
const FIELD_MESSAGES = {
  type: "Choose a generation type from the list.",
  engine:
    "An engine name is up to 40 lowercase letters, digits, dots, dashes or underscores. Leave it empty for the default engine.",
  prompt: "Describe what to generate in 1 to 4,000 characters.",
  mode: "This type cannot be generated in that mode.",
  batchSize: "Choose a batch of 1 to 8.",
  visibility: "Choose whether the prompt is public or private.",
  requestId: "The page sent a malformed request. Please reload it and try again.",
  generationId: "That generation could not be found.",
  status: "That change of status is not allowed.",
  error: "That error report is not valid.",
  days: "Choose a window of 7, 30 or 90 days.",
  filter: "That filter is not valid.",
  data: "The page sent a malformed request. Please reload it and try again.",
};

const UNKNOWN_ENGINE =
  "That engine is not available. Leave Engine empty for the default, or choose another engine.";

/** The code of a Firebase error without its service prefix: "functions/not-found" -> "not-found". */
export function errorCode(error) {
  return String(error?.code ?? "")
    .replace(/^(functions|auth|firestore)\//, "")
    .toLowerCase();
}

function plural(count, word) {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

/** The sentence for one invalid field: `{field: "engine", message: "..."}`. */
export function fieldMessage(problem) {
  // A nested field ("error.code") is named by its first part.
  const field = String(problem?.field ?? "").split(".")[0];
  if (field === "engine" && /^unknown engine/i.test(String(problem?.message ?? ""))) {
    return UNKNOWN_ENGINE;
  }
  return FIELD_MESSAGES[field] ?? CODE_MESSAGES["invalid-argument"];
}

function invalidArgument(details) {
  const problems = Array.isArray(details?.errors) ? [...details.errors] : [];
  if (details?.field) problems.push({ field: details.field });
  const sentences = [...new Set(problems.map(fieldMessage))];
  return sentences.length ? sentences.join(" ") : CODE_MESSAGES["invalid-argument"];
}

function resourceExhausted(details) {
  const wait = Number(details?.retryAfterSeconds);
  const after = wait > 0 ? ` Please try again in ${plural(wait, "second")}.` : " Please try again shortly.";
  if (details?.reason === "rate") {
    return `You are starting generations too quickly.${after}`;
  }
  if (details?.reason === "concurrency") {
    const limit = Number(details?.limit);
    const most = limit > 0 ? ` (at most ${limit} at once)` : "";
    return `Too many of your generations are still running${most}: wait for one to finish.${after}`;
  }
  if (typeof details?.cost === "number" && typeof details?.available === "number") {
    return (
      `Not enough credits: this generation costs ${plural(details.cost, "credit")} ` +
      `and you have ${Math.max(0, details.available)} available.`
    );
  }
  return CODE_MESSAGES["resource-exhausted"];
}

function failedPrecondition(details) {
  if (details?.currentStatus) {
    return `This generation is already ${details.currentStatus}: its status can no longer change.`;
  }
  return CODE_MESSAGES["failed-precondition"];
}

/**
 * A callable's (or a listener's) error as one sentence for people. Reads only
 * the error's code and structured details, never its technical message.
 */
export function errorMessage(error) {
  const code = errorCode(error);
  const details = error?.details ?? null;
  switch (code) {
    case "invalid-argument":
      return invalidArgument(details);
    case "resource-exhausted":
      return resourceExhausted(details);
    case "failed-precondition":
      return failedPrecondition(details);
    default:
      return CODE_MESSAGES[code] ?? DEFAULT_MESSAGE;
  }
}

/**
 * The sentence after a failed sign-in or sign-up. A wrong email, a wrong
 * password and an unknown account read the same, so the page never tells a
 * stranger whether an account exists.
 */
export const WRONG_CREDENTIALS = "That email and password do not match an account.";

const SIGN_IN_MESSAGES = {
  "user-not-found": WRONG_CREDENTIALS,
  "wrong-password": WRONG_CREDENTIALS,
  "invalid-credential": WRONG_CREDENTIALS,
  "invalid-login-credentials": WRONG_CREDENTIALS,
  "invalid-email": WRONG_CREDENTIALS,
  "missing-email": "Enter your email address.",
  "missing-password": "Enter your password.",
  "user-disabled": "This account cannot sign in. Please contact support.",
  // Says no more than the sign-in form would: whoever owns the address can sign in.
  "email-already-in-use": "No new account can be made with that email. If it is yours, sign in instead.",
  "weak-password": "Choose a password of at least 6 characters.",
  "too-many-requests": "Too many attempts. Please wait a moment and try again.",
  "network-request-failed": "The sign-in service cannot be reached. Check your connection and try again.",
  "operation-not-allowed": "This way of signing in is not enabled.",
  "admin-restricted-operation": "This way of signing in is not enabled.",
};

/** A failed sign-in, sign-up or guest sign-in as one sentence. */
export function signInMessage(error) {
  return SIGN_IN_MESSAGES[errorCode(error)] ?? "Signing in did not work. Please try again.";
}
