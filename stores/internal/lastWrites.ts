import type { MessageStore } from "smsforge"

/** A map that keeps its `capacity` newest entries, the oldest dropped first. */
export const bounded = <V>(capacity: number) => {
  const entries = new Map<string, V>()
  return {
    get: (key: string) => entries.get(key),
    set: (key: string, value: V) => {
      entries.delete(key)
      entries.set(key, value)
      if (entries.size > capacity) entries.delete(entries.keys().next().value!)
    },
    delete: (key: string) => void entries.delete(key)
  }
}

/**
 * The messages this instance wrote last, each with what its compare-and-set
 * compares (the row as written, a revision), oldest dropped first: a status
 * change starts from one of them instead of reading the message. One that
 * another instance changed since fails the compare and is read as usual.
 */
export const lastWrites = <Version>(capacity: number) => {
  const entries = bounded<{ readonly version: Version; readonly message: MessageStore.StoredMessage }>(capacity)
  return {
    get: entries.get,
    remember: (id: string, version: Version, message: MessageStore.StoredMessage) => entries.set(id, { version, message }),
    forget: entries.delete
  }
}

export type LastWrites<Version> = ReturnType<typeof lastWrites<Version>>
