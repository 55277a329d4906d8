/**
 * Cuts streamed LLM text into sentences, so speech can start with the first sentence while the rest is still being
 * written. A sentence ends at ".", "!" or "?" (closing quotes and brackets included) followed by white space, or at a
 * line break. Not at "3.5", "Dr. Smith", "e.g. this" or a list's "1.", and a sentence too long for one request is cut
 * at a space.
 */

/** Words after which a full stop does not end a sentence (lower case, without the stop). */
const ABBREVIATIONS = new Set([
  "mr",
  "mrs",
  "ms",
  "dr",
  "prof",
  "sr",
  "jr",
  "st",
  "vs",
  "e.g",
  "i.e",
  "cf",
  "approx",
  "fig",
]);
const CLOSERS = new Set(['"', "'", ")", "]", "}", "\u2019", "\u201d", "\u00bb"]);
const DEFAULT_MAX_CHARS = 500;

export class SentenceAggregator {
  readonly #maxChars: number;
  #text = "";

  constructor(maxChars = DEFAULT_MAX_CHARS) {
    this.#maxChars = maxChars;
  }

  /** Adds streamed text and returns the sentences it completed, trimmed. */
  push(text: string): string[] {
    this.#text += text;
    const sentences: string[] = [];
    for (let end = this.#sentenceEnd(); end > 0; end = this.#sentenceEnd()) {
      const sentence = this.#text.slice(0, end).trim();
      this.#text = this.#text.slice(end);
      if (sentence) sentences.push(sentence);
    }
    return sentences;
  }

  /** The text left over (the end of a reply), trimmed; undefined when there is none. */
  flush(): string | undefined {
    const rest = this.#text.trim();
    this.#text = "";
    return rest || undefined;
  }

  /** Where the first complete sentence ends (an index into the text), or 0 while none is complete. */
  #sentenceEnd(): number {
    const text = this.#text;
    for (let i = 0; i < text.length; i++) {
      const char = text[i];
      if (char === "\n") {
        if (/[\p{L}\p{N}]/u.test(text.slice(0, i))) return i + 1;
        continue;
      }
      if (char !== "." && char !== "!" && char !== "?") continue;
      let next = i + 1;
      while (next < text.length && CLOSERS.has(text[next])) next++;
      // What follows decides ("3." may become "3.5"), so wait for it.
      if (next >= text.length) break;
      if (!/\s/.test(text[next])) continue;
      if (char === "." && !endsSentence(text.slice(0, i))) continue;
      return next;
    }
    if (text.length <= this.#maxChars) return 0;
    const space = text.lastIndexOf(" ", this.#maxChars);
    return space > 0 ? space + 1 : this.#maxChars;
  }
}

/** Whether a full stop after `before` ends a sentence: not after an abbreviation, an initial, or a bare number. */
function endsSentence(before: string): boolean {
  if (!/\p{L}/u.test(before)) return false;
  const word = (before.match(/\S+$/)?.[0] ?? "").replace(/^[^\p{L}\p{N}]+/u, "");
  if (ABBREVIATIONS.has(word.toLowerCase())) return false;
  if (/^\p{Lu}$/u.test(word)) return false;
  return !/^\d+$/.test(word) || !/(^|\n)\s*$/.test(before.slice(0, before.length - word.length));
}
