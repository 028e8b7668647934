/**
 * Keys in insertion order, read from the oldest on, for stores that evict the
 * oldest first. A fresh Map iterator per eviction walks every slot deleted
 * since the Map's table was last rebuilt: tens of µs a call once a store is
 * full. This queue costs O(1) amortised.
 */
export class InsertionQueue<K> {
  private order: Array<K | undefined> = []
  private head = 0

  push(key: K): void {
    this.order.push(key)
  }

  /**
   * Offers keys oldest first to `evict`, which answers `true` when the key is
   * gone (evicted now, or no longer kept) and `false` to stop. `live` lists the
   * keys still kept, to drop stale ones when they pile up.
   */
  drain(evict: (key: K) => boolean, live: { readonly size: number; readonly keys: () => Iterable<K> }): void {
    // a slot is cleared as the head passes it, so an evicted key is garbage at once, not when the array is compacted
    while (this.head < this.order.length && evict(this.order[this.head]!)) {
      this.order[this.head] = undefined
      this.head++
    }
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head)
      this.head = 0
    }
    if (this.order.length - this.head > 2 * live.size + 1024) {
      this.order = Array.from(live.keys())
      this.head = 0
    }
  }
}
