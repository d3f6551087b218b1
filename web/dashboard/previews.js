// The results of generations in feed and history rows: a BlurHash placeholder
// drawn at once from the row's own fields, then the preview image read from
// previews/{id} (one getDoc per id, cached) only once the row scrolls into
// view. A preview is only ever asked for when the row's entry carries one,
// which the backend leaves null for private and hidden generations.
import { doc, getDoc } from "firebase/firestore";

import { el } from "./format.js";
import { errorCode } from "./messages.js";
import { altText, placeholderPixels, previewDataUrl, rowResult } from "./outputs.js";

// Starts loading a little before a row enters the view, so it is there when seen.
const AHEAD = "200px";
// Refusals that stay refusals: asking again would only be refused again.
const FINAL = new Set(["permission-denied", "not-found"]);

/** @param {import("firebase/firestore").Firestore} db */
export function createPreviews(db) {
  /** generation id -> Promise of its data: URL (null: none to show) */
  let loads = new Map();
  /** generation id -> data: URL, for rows drawn again by the next snapshot */
  let loaded = new Map();
  /** blurhash -> data: URL of its decoded placeholder */
  const placeholders = new Map();
  let epoch = 0;

  const observer =
    typeof IntersectionObserver === "function"
      ? new IntersectionObserver(onVisible, { rootMargin: AHEAD })
      : null;

  function onVisible(entries) {
    for (const entry of entries) {
      const image = /** @type {HTMLImageElement} */ (entry.target);
      // Rows replaced by a later snapshot leave their old image behind: let it go.
      if (!image.isConnected) observer?.unobserve(image);
      if (!entry.isIntersecting) continue;
      observer?.unobserve(image);
      void reveal(image);
    }
  }

  function load(id) {
    let pending = loads.get(id);
    if (!pending) {
      const asked = epoch;
      pending = getDoc(doc(db, "previews", id)).then(
        (snapshot) => {
          const data = snapshot.data();
          const url = data ? previewDataUrl(data.image, data.contentType) : null;
          if (url && asked === epoch) loaded.set(id, url);
          return url;
        },
        (error) => {
          // A passing failure (offline, say) is asked again when the row shows next.
          if (!FINAL.has(errorCode(error)) && loads.get(id) === pending) loads.delete(id);
          return null;
        },
      );
      loads.set(id, pending);
    }
    return pending;
  }

  async function reveal(image) {
    const id = image.dataset.previewId;
    const shownEpoch = epoch;
    const url = await load(id);
    if (shownEpoch !== epoch || !image.isConnected) return;
    if (url) {
      image.src = url;
      image.dataset.state = "loaded";
    } else {
      image.dataset.state = "unavailable";
    }
  }

  function placeholder(preview) {
    let url = placeholders.get(preview.blurhash);
    if (url === undefined) {
      url = null;
      try {
        const { width, height, pixels } = placeholderPixels(preview);
        const canvas = document.createElement("canvas");
        canvas.width = width;
        canvas.height = height;
        const context = canvas.getContext("2d");
        if (context) {
          const image = context.createImageData(width, height);
          image.data.set(pixels);
          context.putImageData(image, 0, 0);
          url = canvas.toDataURL();
        }
      } catch {
        url = null; // a malformed hash: the frame stays plain until the image comes
      }
      placeholders.set(preview.blurhash, url);
    }
    return url;
  }

  function thumbnail(id, generation, preview, audio) {
    const image = el("img", {
      class: audio ? "thumb waveform" : "thumb",
      alt: altText(generation),
      width: preview.width,
      height: preview.height,
      decoding: "async",
      "data-preview-id": id,
    });
    const ready = loaded.get(id);
    if (ready) {
      image.src = ready;
      image.dataset.state = "loaded";
      return image;
    }
    const blurred = placeholder(preview);
    if (blurred) image.src = blurred;
    image.dataset.state = "placeholder";
    if (observer) observer.observe(image);
    else void reveal(image);
    return image;
  }

  /**
   * What a row shows of a generation's result (see `rowResult`), as an element,
   * or `null` for nothing.
   */
  function result(id, generation) {
    const shown = rowResult(generation);
    switch (shown.kind) {
      case "preview":
        return el(
          "div",
          { class: "gen-result", "data-result": "preview" },
          thumbnail(id, generation, shown.preview, shown.audio),
          shown.audio ? audioIcon() : null,
        );
      case "excerpt":
        return el(
          "div",
          { class: "gen-result", "data-result": "excerpt" },
          el("p", { class: "excerpt" }, shown.text),
        );
      case "icon":
        return el("div", { class: "gen-result", "data-result": "icon" }, audioIcon());
      default:
        return null;
    }
  }

  /** Drop every image read so far (the user changed: nothing of theirs stays). */
  function forget() {
    epoch += 1;
    loads = new Map();
    loaded = new Map();
  }

  return { result, forget, load };
}

function audioIcon() {
  return el("span", { class: "audio-icon", role: "img", "aria-label": "Audio" }, "\u266b");
}
