/**
 * A bounded cache with second-chance (CLOCK) eviction on a `Map`, which keeps
 * insertion order. A hit only marks its entry as used; an insert past
 * capacity looks at the oldest entry: a used one is unmarked and moved to the
 * back, an unused one is evicted. It approximates least-recently-used, and a
 * hit costs a lookup instead of a delete and an insert (about 130 ns a hit,
 * which is most of a cached normalisation). Every operation is O(1)
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
interface Entry<V> {
  value: V
  used: boolean
}

export class Cache<K, V> {
  readonly capacity: number
  private readonly map = new Map<K, Entry<V>>()
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
    const entry = this.map.get(key)
    if (entry === undefined) {
      this.misses++
      return undefined
    }
    this.hits++
    entry.used = true
    return entry.value
  }

  /** Stores a value, evicting entries beyond capacity (unused ones first). */
  set(key: K, value: V): void {
    if (this.capacity === 0) return
    const present = this.map.get(key)
    if (present !== undefined) {
      present.value = value
      present.used = true
      return
    }
    // room first, so the new entry is never the one evicted
    while (this.map.size >= this.capacity) {
      if (this.oldest === undefined) this.oldest = this.map.keys()
      let oldest = this.oldest.next()
      if (oldest.done === true) {
        // Every entry has been passed over since the iterator was made.
        this.oldest = this.map.keys()
        oldest = this.oldest.next()
        if (oldest.done === true) break
      }
      const entry = this.map.get(oldest.value)!
      this.map.delete(oldest.value)
      this.touch()
      if (entry.used) {
        // a second chance: to the back, unmarked
        entry.used = false
        this.map.set(oldest.value, entry)
      }
    }
    this.map.set(key, { value, used: false })
    this.touch()
  }

  /**
   * A live Map iterator keeps every table the Map has outgrown or rehashed
   * since the iterator last moved, so one kept across many mutations (a
   * rehash every few thousand) grows without bound. It is dropped after
   * `capacity` mutations and made afresh on the next eviction: one walk over
   * the deleted slots per `capacity` operations, O(1) amortised.
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

  /** Keys from the next to be looked at for eviction to the newest (for tests). */
  keys(): Array<K> {
    return Array.from(this.map.keys())
  }
}
