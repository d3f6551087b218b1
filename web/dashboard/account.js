// Who is signed in. Locally (Auth emulator) a visitor is signed in anonymously
// at once, so the feed and the numbers show without a form; an email account
// can be created or used from the "My generations" panel. The signed-in user's
// own email is shown there and nowhere else.
import {
  createUserWithEmailAndPassword,
  onAuthStateChanged,
  signInAnonymously,
  signInWithEmailAndPassword,
  signOut,
  updateProfile,
} from "firebase/auth";

import { describeError } from "./format.js";

/**
 * @param {import("firebase/auth").Auth} auth
 * @param {{ local: boolean, onUser: (user: import("firebase/auth").User | null) => void }} options
 */
export function createAccount(auth, { local, onUser }, root = document) {
  const form = root.getElementById("sign-in");
  const message = root.getElementById("sign-in-message");
  const name = root.getElementById("account-name");
  const email = root.getElementById("account-email");
  const signOutButton = root.getElementById("sign-out");
  const guestButton = root.getElementById("sign-in-guest");
  const who = root.getElementById("who");

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

  onAuthStateChanged(auth, (user) => {
    show(user);
    if (!user && local) {
      // The emulator needs no account: a newcomer watches at once.
      signInAnonymously(auth).catch((error) => {
        message.textContent = `Guest sign-in failed (${describeError(error)})`;
      });
    }
    onUser(user);
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
      message.textContent = "";
    } catch (error) {
      message.textContent = describeError(error);
    }
  });

  signOutButton.addEventListener("click", () => void signOut(auth));
  guestButton.addEventListener("click", () => void signInAnonymously(auth));
}
