/**
 * A bounded cache with second-chance (CLOCK) eviction: the entries sit in a
 * ring of `capacity` slots, found through a `Map` from key to slot. A hit
 * only marks its slot as used; an insert into a full ring moves the hand
 * past used slots, unmarking them, and puts the new entry in the first
 * unused one. It approximates least-recently-used, a hit costs one lookup
 * (most of a cached normalisation), and an eviction a delete and an insert
 * in the `Map`: no iterator, and no entry object per key. Every operation is
 * O(1) amortised, and the cache never holds more than `capacity` entries.
 *
 * Not exported from the package; `PhoneNumbers` keeps its normalisations here.
 *
 * @internal
 */
export class Cache<K, V> {
  readonly capacity: number
  private readonly slots = new Map<K, number>()
  private keysAt: Array<K> = []
  private values: Array<V> = []
  private used: Uint8Array
  // The next slot to look at for eviction, once the ring is full.
  private hand = 0
  hits = 0
  misses = 0

  constructor(capacity: number) {
    this.capacity = Number.isFinite(capacity) ? Math.max(0, Math.floor(capacity)) : 0
    this.used = new Uint8Array(this.capacity)
  }

  get size(): number {
    return this.keysAt.length
  }

  /** The cached value, counted as a hit or a miss; `undefined` on a miss. */
  get(key: K): V | undefined {
    const slot = this.slots.get(key)
    if (slot === undefined) {
      this.misses++
      return undefined
    }
    this.hits++
    this.used[slot] = 1
    return this.values[slot]
  }

  /** Stores a value, evicting an entry not used since the hand last passed it when full. */
  set(key: K, value: V): void {
    if (this.capacity === 0) return
    const present = this.slots.get(key)
    if (present !== undefined) {
      this.values[present] = value
      this.used[present] = 1
      return
    }
    if (this.keysAt.length < this.capacity) {
      this.slots.set(key, this.keysAt.length)
      this.keysAt.push(key)
      this.values.push(value)
      return
    }
    // a second chance: passed over, unmarked
    while (this.used[this.hand] === 1) {
      this.used[this.hand] = 0
      this.hand = (this.hand + 1) % this.capacity
    }
    const slot = this.hand
    this.slots.delete(this.keysAt[slot]!)
    this.slots.set(key, slot)
    this.keysAt[slot] = key
    this.values[slot] = value
    this.hand = (slot + 1) % this.capacity
  }

  clear(): void {
    this.slots.clear()
    this.keysAt = []
    this.values = []
    this.used.fill(0)
    this.hand = 0
    this.hits = 0
    this.misses = 0
  }

  /** Keys from the next to be looked at for eviction to the newest (for tests). */
  keys(): Array<K> {
    return [...this.keysAt.slice(this.hand), ...this.keysAt.slice(0, this.hand)]
  }
}
