/**
 * The part of the `smpp` package (0.5.1, no bundled types) that smsforge
 * uses: sessions, PDUs, the server side (for tests and benches) and the
 * GSM 03.38 encoder. Every PDU field is read as `unknown` and checked at the
 * edge, so nothing untyped leaks into the transport.
 *
 * @internal
 */
declare module "smpp" {
  import type { EventEmitter } from "node:events"
  import type { Server as NetServer, Socket } from "node:net"

  /** A decoded `short_message` / `message_payload`: UDH information elements and the text. */
  export interface DecodedMessage {
    readonly udh?: ReadonlyArray<Buffer> | undefined
    readonly message: string | Buffer
  }

  /** A message to encode: `udh` is the whole user data header, its length octet included. */
  export interface EncodableMessage {
    readonly udh?: Buffer | undefined
    readonly message: string | Buffer
  }

  export type PduValue = string | number | Buffer | Date | EncodableMessage | null | undefined

  export type PduParams = Readonly<Record<string, PduValue>>

  export interface Pdu {
    readonly command: string
    readonly command_id: number
    readonly command_status: number
    readonly sequence_number: number
    isResponse(): boolean
    response(options?: Record<string, PduValue>): Pdu
    readonly [field: string]: unknown
  }

  export interface PduConstructor {
    new (command: string, options?: Record<string, PduValue>): Pdu
  }

  export type PduListener = (pdu: Pdu) => void

  export interface Session extends EventEmitter {
    readonly socket: Socket
    /** Response callbacks by sequence number (internal to the package, cleared on timeout). */
    readonly _callbacks: Record<number, PduListener | undefined>
    send(pdu: Pdu, onResponse?: PduListener, onSent?: PduListener): boolean
    close(callback?: () => void): void
    destroy(callback?: () => void): void
    pause(): void
    resume(): void
  }

  export interface Server extends NetServer {
    readonly sessions: ReadonlyArray<Session>
  }

  export interface Encoder {
    match(value: string): boolean
    encode(value: string): Buffer
    decode(value: Buffer): string
  }

  export interface SmppModule {
    connect(options: { readonly host: string; readonly port: number }): Session
    createServer(listener: (session: Session) => void): Server
    readonly PDU: PduConstructor
    readonly encodings: { readonly ASCII: Encoder; readonly UCS2: Encoder; readonly LATIN1: Encoder }
  }

  const smpp: SmppModule
  export default smpp
}
