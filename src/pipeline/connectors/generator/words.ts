/**
 * Made-up words for generated keys and `string` fields: a fixed vocabulary built once from
 * syllables, each kept as a string and as bytes so generating a record allocates nothing for them.
 * @module
 */

const ONSETS = ['b', 'br', 'c', 'ch', 'd', 'f', 'g', 'gr', 'h', 'j', 'k', 'l', 'm', 'n', 'p', 'pl', 'r', 's', 'st', 't', 'tr', 'v', 'w', 'z']
const VOWELS = ['a', 'e', 'i', 'o', 'u', 'ai', 'ea', 'oo']
const CODAS = ['', 'n', 'r', 'st', 'l', 'm', 'nd', 'x']

function buildWords(): string[] {
  const words = new Set<string>()
  for (const onset of ONSETS) for (const vowel of VOWELS) for (const coda of CODAS) words.add(onset + vowel + coda)
  const syllables = [...words]
  // Two-syllable words from a fixed stride through the list: deterministic and varied.
  for (let i = 0; i < syllables.length; i++) words.add(syllables[i] + syllables[(i * 7 + 3) % syllables.length])
  return [...words]
}

/** The vocabulary (about 3,000 words). */
export const WORDS: readonly string[] = buildWords()
/** The vocabulary as UTF-8 bytes, index for index. Shared: never mutate these buffers. */
export const WORD_BYTES: readonly Buffer[] = WORDS.map((w) => Buffer.from(w))

/** The index of a random word. */
export function randomWordIndex(): number {
  return Math.floor(Math.random() * WORDS.length)
}
