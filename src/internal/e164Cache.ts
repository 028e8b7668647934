/**
 * A bounded least-recently-used cache on a `Map`, which keeps insertion
 * order: a hit deletes and re-inserts its key (it becomes the newest), and an
 * insert past capacity deletes the oldest key. Every operation is O(1)
 * amortised, and the cache never holds more than `capacity` entries.
 *
 * Finding the oldest key with a fresh `map.keys().next()` is not O(1) in V8:
 * deleted slots stay in the table until it is rehashed, and a fresh iterator
 * walks over all of them (8 µs an eviction at 10,000 entries). One iterator
 * kept for the cache's life walks past each deleted slot once: everything
 * behind it has been deleted, and keys inserted later land ahead of it.
 *
 * Not exported from the package; `PhoneNumbers` keeps its normalisations here.
 *
 * @internal
 */
export class Lru<K, V> {
  readonly capacity: number
  private readonly map = new Map<K, V>()
  private oldest: Iterator<K> | undefined = undefined
  // Mutations since the iterator was made; see `touch`.
  private touched = 0
  hits = 0
  misses = 0

  constructor(capacity: number) {
    this.capacity = Number.isFinite(capacity) ? Math.max(0, Math.floor(capacity)) : 0
  }

  get size(): number {
    return this.map.size
  }

  /** The cached value, counted as a hit or a miss; `undefined` on a miss. */
  get(key: K): V | undefined {
    const value = this.map.get(key)
    if (value === undefined) {
      this.misses++
      return undefined
    }
    this.hits++
    // Re-insert so that the key becomes the newest in the Map's order.
    this.map.delete(key)
    this.map.set(key, value)
    this.touch()
    return value
  }

  /** Stores a value, evicting the least recently used entries beyond capacity. */
  set(key: K, value: V): void {
    if (this.capacity === 0) return
    if (this.map.has(key)) this.map.delete(key)
    this.map.set(key, value)
    this.touch()
    while (this.map.size > this.capacity) {
      if (this.oldest === undefined) this.oldest = this.map.keys()
      let oldest = this.oldest.next()
      if (oldest.done === true) {
        // Only after the map was emptied; a finished iterator stays finished.
        this.oldest = this.map.keys()
        oldest = this.oldest.next()
        if (oldest.done === true) break
      }
      this.map.delete(oldest.value)
    }
  }

  /**
   * A live Map iterator keeps every table the Map has outgrown or rehashed
   * since the iterator last moved, so one kept through hits alone (delete and
   * re-insert, a rehash every few thousand) grows without bound. It is dropped
   * after `capacity` mutations and made afresh on the next eviction: one walk
   * over the deleted slots per `capacity` operations, O(1) amortised.
   */
  private touch(): void {
    if (++this.touched > this.capacity) {
      this.oldest = undefined
      this.touched = 0
    }
  }

  clear(): void {
    this.map.clear()
    this.oldest = undefined
    this.touched = 0
    this.hits = 0
    this.misses = 0
  }

  /** Keys from the least to the most recently used (for tests). */
  keys(): Array<K> {
    return Array.from(this.map.keys())
  }
}
