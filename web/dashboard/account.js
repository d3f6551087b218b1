// Who is signed in. Locally (Auth emulator) a newcomer is signed in as a guest
// (anonymously) at once, so the feed and the numbers show without a form; an
// email account can be created or used from the "My generations" panel.
// Signing out leaves the page signed out, also after a reload, until the
// visitor signs in again. The signed-in user's own email is shown in that
// panel and nowhere else.
import {
  createUserWithEmailAndPassword,
  onAuthStateChanged,
  signInAnonymously,
  signInWithEmailAndPassword,
  signOut,
  updateProfile,
} from "firebase/auth";

import { signInMessage } from "./messages.js";

// Set when the visitor signs out, so the page does not sign a guest in behind their back.
const SIGNED_OUT_KEY = "generations-live:signed-out";

function remembersSignOut() {
  try {
    return window.localStorage.getItem(SIGNED_OUT_KEY) === "1";
  } catch {
    return false; // storage blocked: behave as on a first visit
  }
}

function rememberSignOut(signedOut) {
  try {
    if (signedOut) window.localStorage.setItem(SIGNED_OUT_KEY, "1");
    else window.localStorage.removeItem(SIGNED_OUT_KEY);
  } catch {
    // Storage blocked: only the automatic guest sign-in after a reload is affected.
  }
}

/**
 * @param {import("firebase/auth").Auth} auth
 * @param {{ local: boolean, onUser: (user: import("firebase/auth").User | null) => void }} options
 *   `onUser` hears of every change of user; with `null` before the sign-out
 *   itself too, so listeners stop while their credentials are still valid.
 */
export function createAccount(auth, { local, onUser }, root = document) {
  const form = root.getElementById("sign-in");
  const message = root.getElementById("sign-in-message");
  const name = root.getElementById("account-name");
  const email = root.getElementById("account-email");
  const signOutButton = root.getElementById("sign-out");
  const emailBox = root.querySelector(".sign-in-box");
  const who = root.getElementById("who");
  let firstState = true;

  function show(user) {
    root.body.dataset.auth = !user ? "signed-out" : user.isAnonymous ? "guest" : "email";
    if (!user) {
      name.textContent = "Not signed in";
      email.textContent = "";
      who.textContent = "Signed out";
      return;
    }
    const label = user.isAnonymous ? "Guest" : user.displayName || "Signed in";
    name.textContent = label;
    email.textContent = user.isAnonymous ? "" : (user.email ?? "");
    who.textContent = user.isAnonymous ? "Guest viewer" : label;
  }

  async function signInAsGuest() {
    message.textContent = "Signing in as a guest…";
    try {
      await signInAnonymously(auth);
      message.textContent = "";
    } catch (error) {
      message.textContent = signInMessage(error);
    }
  }

  onAuthStateChanged(auth, (user) => {
    const newcomer = firstState && !user && local && !remembersSignOut();
    firstState = false;
    if (user) rememberSignOut(false);
    show(user);
    onUser(user);
    // The emulator needs no account: a newcomer watches at once.
    if (newcomer) void signInAsGuest();
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const create = event.submitter?.value === "create";
    message.textContent = create ? "Creating your account…" : "Signing in…";
    try {
      const address = String(data.get("email")).trim();
      const password = String(data.get("password"));
      if (create) {
        const { user } = await createUserWithEmailAndPassword(auth, address, password);
        const displayName = String(data.get("name") ?? "").trim();
        if (displayName) {
          await updateProfile(user, { displayName });
          // A fresh ID token carries the name, which the feed shows as the author.
          await user.getIdToken(true);
          show(user);
        }
      } else {
        await signInWithEmailAndPassword(auth, address, password);
      }
      form.reset();
      emailBox.open = false;
      message.textContent = "";
    } catch (error) {
      message.textContent = signInMessage(error);
    }
  });

  signOutButton.addEventListener("click", async () => {
    rememberSignOut(true);
    message.textContent = "";
    form.reset();
    // Stop every listener first: after signOut their reads would be refused.
    onUser(null);
    show(null);
    try {
      await signOut(auth);
    } catch (error) {
      // Still signed in: show that user again.
      show(auth.currentUser);
      onUser(auth.currentUser);
      message.textContent = "Signing out did not work. Please try again.";
    }
  });

  for (const button of root.querySelectorAll('[data-sign-in="guest"]')) {
    button.addEventListener("click", () => void signInAsGuest());
  }
  for (const button of root.querySelectorAll('[data-sign-in="email"]')) {
    button.addEventListener("click", () => {
      emailBox.open = true;
      emailBox.scrollIntoView({ block: "nearest" });
      form.elements.email.focus();
    });
  }
}
