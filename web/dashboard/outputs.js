// What a generation's results look like on the page, as plain values: what a
// row shows of them, the data: URL of a stored preview, the placeholder of its
// BlurHash, the request that regenerates, and which output URLs may be loaded.
// No DOM, no SDK, so the rules are tested on their own in Node.
import { decode, isBlurhashValid } from "blurhash";

/** The image formats a preview may be shown as (the backend stores WebP). */
export const PREVIEW_CONTENT_TYPES = ["image/webp", "image/png", "image/jpeg", "image/gif"];

/** The longest side of a decoded placeholder: BlurHash holds only a few colours, so more is waste. */
export const PLACEHOLDER_SIDE = 32;

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
// Chunks of bytes handed to String.fromCharCode at once: large previews overflow the call stack.
const CHUNK = 0x8000;

function bytesToBase64(bytes) {
  let binary = "";
  for (let at = 0; at < bytes.length; at += CHUNK) {
    binary += String.fromCharCode(...bytes.subarray(at, at + CHUNK));
  }
  return btoa(binary);
}

/**
 * The `data:` URL of a stored preview. The page's Content-Security-Policy
 * allows images from `data:` but not from `blob:`, hence no object URL.
 * `image` is the Firestore Bytes of `previews/{id}` (anything with
 * `toBase64()`), a Uint8Array or a base64 string; `null` for anything else.
 *
 * @param {{ toBase64(): string } | Uint8Array | string | null | undefined} image
 * @param {string} [contentType]
 * @returns {string | null}
 */
export function previewDataUrl(image, contentType = "image/webp") {
  if (!PREVIEW_CONTENT_TYPES.includes(contentType)) return null;
  let base64 = null;
  if (typeof image === "string") base64 = image;
  else if (typeof image?.toBase64 === "function") base64 = image.toBase64();
  else if (image instanceof Uint8Array) base64 = bytesToBase64(image);
  if (!base64 || !BASE64.test(base64)) return null;
  return `data:${contentType};base64,${base64}`;
}

/** The `preview` field of a generation when it can be drawn, else `null`. */
export function validPreview(preview) {
  if (!preview || typeof preview !== "object") return null;
  const { blurhash, width, height } = preview;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) return null;
  if (typeof blurhash !== "string" || !isBlurhashValid(blurhash).result) return null;
  return { blurhash, width, height };
}

/**
 * What a feed or history row shows of a generation's result:
 * - `preview`: its preview image (a BlurHash placeholder until the image loads),
 *   `audio` set for an audio waveform so the row also says it is audio;
 * - `excerpt`: the start of a text output;
 * - `icon`: an audio output without a preview;
 * - `none`: nothing (still running, no output, private to someone else, or hidden).
 * A null prompt is how the feed marks someone else's private generation: it
 * shows nothing of those, whatever else the entry holds.
 *
 * @returns {{ kind: "preview", preview: { blurhash: string, width: number, height: number },
 *   audio: boolean } | { kind: "excerpt", text: string } | { kind: "icon" } | { kind: "none" }}
 */
export function rowResult(generation) {
  if (!generation || generation.hidden) return { kind: "none" };
  if (generation.prompt === null || generation.prompt === undefined) return { kind: "none" };
  const preview = validPreview(generation.preview);
  if (preview) return { kind: "preview", preview, audio: generation.type === "audio" };
  if (typeof generation.textExcerpt === "string" && generation.textExcerpt.trim()) {
    return { kind: "excerpt", text: generation.textExcerpt };
  }
  if (generation.type === "audio" && generation.outputCount > 0) return { kind: "icon" };
  return { kind: "none" };
}

/** The size a placeholder is decoded at: the preview's shape, its longest side `side`. */
export function placeholderSize({ width, height }, side = PLACEHOLDER_SIDE) {
  const scale = side / Math.max(width, height);
  return {
    width: Math.max(1, Math.round(width * scale)),
    height: Math.max(1, Math.round(height * scale)),
  };
}

/**
 * The RGBA pixels of a preview's placeholder, at `placeholderSize(preview)`.
 *
 * @returns {{ width: number, height: number, pixels: Uint8ClampedArray }}
 */
export function placeholderPixels(preview) {
  const { width, height } = placeholderSize(preview);
  return { width, height, pixels: decode(preview.blurhash, width, height) };
}

const ARTICLES = { image: "an", audio: "an" };

/** The alt text of a generation's image: its prompt, else what it is a preview of. */
export function altText(generation) {
  const prompt = typeof generation?.prompt === "string" ? generation.prompt.trim() : "";
  if (prompt) return prompt;
  const type = generation?.type ?? "generation";
  return `Preview of ${ARTICLES[type] ?? "a"} ${type} generation`;
}

/**
 * The trackGeneration request that makes a generation again: the same type,
 * engine, prompt, batch size and visibility, a request id of its own (a repeat
 * of the old id would be answered with the old generation) and a link back.
 *
 * @param {{ type: string, engine?: string | null, prompt: string, batchSize: number,
 *   visibility?: string }} generation the owner's record
 * @param {string} generationId the generation made again
 * @param {string} [requestId]
 */
export function regenerateRequest(generation, generationId, requestId = `web-${crypto.randomUUID()}`) {
  const request = {
    type: generation.type,
    prompt: generation.prompt,
    batchSize: generation.batchSize ?? 1,
    visibility: generation.visibility === "private" ? "private" : "public",
    requestId,
    regeneratedFrom: generationId,
  };
  if (generation.engine) request.engine = generation.engine;
  return request;
}

/**
 * What "Use this prompt" puts into the start form, or `null` when the entry
 * has no prompt to share (private or hidden).
 */
export function promptFields(generation) {
  if (!generation || generation.hidden || typeof generation.prompt !== "string") return null;
  return { type: generation.type, engine: generation.engine ?? "", prompt: generation.prompt };
}

/**
 * An output URL the page may load: https, or http on the loopback address the
 * emulators serve from (the only http origin the page's policy allows).
 * Anything else (javascript:, data:, other hosts over http) is `null`.
 */
export function safeOutputUrl(url) {
  let parsed;
  try {
    parsed = new URL(String(url));
  } catch {
    return null;
  }
  if (parsed.protocol === "https:") return parsed.href;
  if (parsed.protocol === "http:" && parsed.hostname === "127.0.0.1") return parsed.href;
  return null;
}

/**
 * How one output of getGenerationOutputs is shown: `image`, `video`, `audio`
 * (with a safe `url`), `text`, or `unavailable` when its URL may not be loaded.
 */
export function outputView(output) {
  const contentType = String(output?.contentType ?? "");
  if (typeof output?.text === "string") return { kind: "text", text: output.text, contentType };
  const url = safeOutputUrl(output?.url);
  if (!url) return { kind: "unavailable", contentType };
  const family = contentType.split("/")[0];
  const kind = ["image", "video", "audio"].includes(family) ? family : "file";
  return {
    kind,
    url,
    contentType,
    width: output.width ?? null,
    height: output.height ?? null,
    durationMs: output.durationMs ?? null,
    bytes: output.bytes ?? null,
  };
}
