import type { MessageStore } from "smsforge"

/**
 * The messages this instance wrote last, each with what its compare-and-set
 * compares (the row as written, a revision), oldest dropped first: a status
 * change starts from one of them instead of reading the message. One that
 * another instance changed since fails the compare and is read as usual.
 */
export const lastWrites = <Version>(capacity: number) => {
  const entries = new Map<string, { readonly version: Version; readonly message: MessageStore.StoredMessage }>()
  return {
    get: (id: string) => entries.get(id),
    remember: (id: string, version: Version, message: MessageStore.StoredMessage) => {
      entries.delete(id)
      entries.set(id, { version, message })
      if (entries.size > capacity) entries.delete(entries.keys().next().value!)
    },
    forget: (id: string) => void entries.delete(id)
  }
}

export type LastWrites<Version> = ReturnType<typeof lastWrites<Version>>
