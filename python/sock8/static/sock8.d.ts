// Types of sock8.js, the sock8 browser client (one ES module beside this file).

/** A JSON value, as payloads and presence data travel. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Base class of every error sock8.js throws or reports; `code` is stable. */
export class Sock8Error extends Error {
  constructor(code: string, message: string);
  readonly code: string;
}

/** `channelId` refused a template or a value (code `invalid_channel`). */
export class ChannelError extends Sock8Error {
  constructor(message: string, segment?: string | null);
  readonly code: "invalid_channel";
  /** The template segment or parameter name at fault, when there is one. */
  readonly segment: string | null;
}

/** The auth route could not be used (code `auth_failed`); `retryable` ones are retried. */
export class AuthError extends Sock8Error {
  constructor(message: string, options?: { status?: number | null; retryable?: boolean });
  readonly code: "auth_failed";
  readonly status: number | null;
  readonly retryable: boolean;
}

/** Terminal (code `unauthorized`): the auth route answered 401 or 403, or the gateway refused a
 * freshly fetched token. */
export class Unauthorized extends Sock8Error {
  constructor(message: string, status?: number | null);
  readonly code: "unauthorized";
  readonly status: number | null;
}

/** The gateway refused a request with an error frame; `code` is the frame's. */
export class RequestRefused extends Sock8Error {
  constructor(code: string, message: string, channel?: string | null);
  readonly channel: string | null;
}

/** The channel is not granted (code `forbidden`). */
export class Forbidden extends RequestRefused {
  constructor(channel: string, message?: string);
  readonly code: "forbidden";
}

/** Terminal: the gateway closed with 4400 (code `bad_frame`) or 4003 (code `forbidden`). */
export class ProtocolError extends Sock8Error {
  constructor(code: string, message: string, closeCode: number);
  readonly closeCode: number;
}

/** The connection dropped before the gateway answered (code `connection_lost`). */
export class ConnectionLost extends Sock8Error {
  constructor(message?: string);
  readonly code: "connection_lost";
}

/** The gateway did not answer a request in time (code `timeout`). */
export class RequestTimeout extends Sock8Error {
  constructor(message: string);
  readonly code: "timeout";
}

/** The client is closed (code `closed`). */
export class ClientClosed extends Sock8Error {
  constructor(message?: string);
  readonly code: "closed";
}

/**
 * The wire id of a channel, byte for byte as the server renders it:
 * `channelId("chat.{roomId}.messages", { roomId: "r 1" }) === "chat.r%201##roomId.messages"`.
 * Values are strings or safe integers (or bigints). Throws `ChannelError`.
 */
export function channelId(template: string, params?: Record<string, string | number | bigint>): string;

export interface BackoffOptions {
  /** Ceiling of the first delay, seconds (0.5). */
  base?: number;
  /** Largest ceiling, seconds (20). */
  cap?: number;
  /** Growth of the ceiling per failed attempt (2). */
  factor?: number;
  /** A connection up this many seconds counts as stable: the next drop starts over (60). */
  resetAfter?: number;
}

export const DEFAULT_BACKOFF: Readonly<Required<BackoffOptions>>;

/** A random delay in [0, min(cap, base * factor ** attempt)) seconds (full jitter). */
export function backoffDelay(attempt: number, options?: BackoffOptions, random?: () => number): number;

/** What the client does after a close code: fetch a new token once (4001), stop (4400, 4003),
 * or reconnect with backoff (everything else: 1006, 1012, 4008, ...). */
export function closePolicy(code: number): "token" | "stop" | "reconnect";

/** A presence member: the identity's entry on a channel. `data` has no prototype. */
export interface Member {
  data: Record<string, Json>;
  lastSeen: number;
  isConnected: boolean;
}

/** Apply a `presenceState` or `presenceUpdate` frame to `members` in place; returns it. */
export function applyPresence(members: Map<string, Member>, frame: Record<string, unknown>): Map<string, Member>;

export type State = "connecting" | "connected" | "disconnected" | "closed";

export interface StateInfo {
  /** Why the connection ended (`"offline"`, `"close code 1012"`, ...). */
  reason?: string;
  /** The close code, when the socket closed. */
  code?: number | null;
  /** Seconds until the next attempt, in `"disconnected"`. */
  retryIn?: number;
  /** The terminal error, in `"closed"` (`null` after `close()`). */
  error?: Sock8Error | null;
}

export interface MessageMeta {
  channel: string;
  /** On channels with history: the message's place in the channel's stream. */
  offset?: number;
  /** On channels with history: the stream's identity (changes when it is reset). */
  epoch?: string;
}

/** After a reconnect, messages of the channel were lost (the gap is older than the history
 * keeps, or the stream was reset), or may have been (the resume was refused or not answered
 * in time; `offset` is then the last one this client had): reload the channel's state. */
export interface ChannelReset {
  channel: string;
  offset: number;
  epoch: string;
}

export interface HistoryPage {
  /** Newest first; `timestamp` in epoch ms. */
  messages: { timestamp: number; payload: Json }[];
  /** Pass it as `cursor` for the next (older) page; `null` on the last page. */
  nextCursor: string | null;
}

/** Time, for tests: `now()` in epoch ms and timers. */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface ClientOptions {
  /** Where the app mounted `with_sock8`, relative to the page or absolute. */
  authUrl: string;
  /** Merged into every request to the auth route (credentials, a CSRF header); a function is
   * called per request. Redirects are never followed. */
  fetchOptions?: RequestInit | (() => RequestInit | Promise<RequestInit>);
  /** Refresh this many seconds before `exp` (30; at most half the token's lifetime). */
  refreshBefore?: number;
  backoff?: BackoffOptions;
  /** Seconds a request waits for the gateway's answer (10). */
  requestTimeout?: number;
  /** Seconds from opening the socket to `welcome` (10). */
  openTimeout?: number;
  /** Accept a `ws://` endpoint from an `https://` auth route (development only). */
  allowInsecureEndpoint?: boolean;
  clock?: Clock;
  random?: () => number;
  WebSocket?: typeof WebSocket;
  fetch?: typeof fetch;
  /** Where `online` and `offline` events come from (`window`); `null`: none. */
  networkEventTarget?: EventTarget | null;
  /** Whether the browser is online now (`navigator.onLine`). */
  isOnline?: () => boolean;
}

export interface ChannelPresence {
  /** Merge `data` into this client's presence; resolves when the gateway applied it, rejects
   * with a `RequestRefused` carrying the error frame's `code`. Restored after a reconnect. */
  set(data: Record<string, Json>): Promise<void>;
  /** The members now. */
  get(): Promise<Map<string, Member>>;
}

export class Channel {
  private constructor();
  readonly id: string;
  readonly presence: ChannelPresence;
  /** The last known members; `null` before the first presence frame. */
  readonly members: Map<string, Member> | null;
  on(event: "message", listener: (payload: Json, meta: MessageMeta) => void): () => void;
  on(event: "presence", listener: (members: Map<string, Member>) => void): () => void;
  on(event: "error", listener: (error: Sock8Error) => void): () => void;
  on(event: "reset", listener: (reset: ChannelReset) => void): () => void;
  off(event: string, listener: (...args: any[]) => void): void;
  /** A page of stored messages through the app's auth route. */
  history(options?: { limit?: number; cursor?: string | null }): Promise<HistoryPage>;
  /** Start deliveries again; kept across reconnects. */
  subscribe(): Promise<void>;
  /** Stop deliveries and leave presence; kept across reconnects until `subscribe()`. */
  unsubscribe(): Promise<void>;
}

export class Sock8Client {
  constructor(options: ClientOptions);
  readonly state: State;
  /** The error that closed the client for good, if any. */
  readonly error: Sock8Error | null;
  readonly identity: string | null;
  readonly channels: string[];
  readonly expiresAt: number | null;
  readonly authUrl: string;
  on(event: "state", listener: (state: State, info: StateInfo) => void): () => void;
  on(event: "error", listener: (error: Sock8Error) => void): () => void;
  on(event: "message", listener: (payload: Json, meta: MessageMeta) => void): () => void;
  on(event: "channels", listener: (channels: string[]) => void): () => void;
  off(event: string, listener: (...args: any[]) => void): void;
  /** Resolves when connected; rejects only when the client closes for good (a 401 from the
   * auth route, `close()`); network failures are retried. */
  connect(): Promise<void>;
  /** Close and stop for good; idempotent. */
  close(): void;
  /** The channel `id` (a wire id); the same object for the same id. */
  channel(id: string): Channel;
  /** Swap in a new token now (it happens by itself before `exp`). */
  refresh(): Promise<void>;
}
