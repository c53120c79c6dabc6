// @ts-check
/**
 * sock8.js: the browser client of sock8. One ES module, no dependencies, no build step.
 *
 *   import { Sock8Client, channelId } from "https://realtime.example.com/sock8.js";
 *   const client = new Sock8Client({ authUrl: "/api/channels" });
 *   const room = client.channel(channelId("chat.{roomId}.messages", { roomId: "lobby" }));
 *   room.on("message", (payload) => console.log(payload));
 *   await client.connect();
 *
 * The wire protocol and the rules this client follows are in docs/protocol.md ("Client rules").
 * Types: sock8.d.ts, beside this file.
 */

// Errors

/** Base class of every error this module throws or reports; `code` is stable. */
export class Sock8Error extends Error {
  /**
   * @param {string} code
   * @param {string} message
   */
  constructor(code, message) {
    super(message);
    this.name = new.target.name;
    /** @type {string} */
    this.code = code;
  }
}

/** `channelId` refused a template or a value (code `invalid_channel`). */
export class ChannelError extends Sock8Error {
  /**
   * @param {string} message
   * @param {string | null} [segment] the template segment or parameter name at fault
   */
  constructor(message, segment = null) {
    super("invalid_channel", message);
    /** @type {string | null} */
    this.segment = segment;
  }
}

/** The app's auth route could not be used (code `auth_failed`): unreachable, a server error, a
 * redirect, a malformed answer or endpoint. `retryable` ones are retried with backoff. */
export class AuthError extends Sock8Error {
  /**
   * @param {string} message
   * @param {{ status?: number | null, retryable?: boolean }} [options]
   */
  constructor(message, options = {}) {
    super("auth_failed", message);
    /** @type {number | null} */
    this.status = options.status ?? null;
    /** @type {boolean} */
    this.retryable = options.retryable ?? false;
  }
}

/** Terminal (code `unauthorized`): the auth route answered 401 or 403, or the gateway refused a
 * freshly fetched token. */
export class Unauthorized extends Sock8Error {
  /**
   * @param {string} message
   * @param {number | null} [status]
   */
  constructor(message, status = null) {
    super("unauthorized", message);
    /** @type {number | null} */
    this.status = status;
  }
}

/** The gateway refused a request with an error frame; the connection stays open. `code` is the
 * frame's (`forbidden`, `invalid_presence`, `not_subscribed`, `rate_limited`, ...). */
export class RequestRefused extends Sock8Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {string | null} [channel]
   */
  constructor(code, message, channel = null) {
    super(code, message || code);
    /** @type {string | null} */
    this.channel = channel;
  }
}

/** The channel is not granted to this client (code `forbidden`). */
export class Forbidden extends RequestRefused {
  /**
   * @param {string} channel
   * @param {string} [message]
   */
  constructor(channel, message) {
    super("forbidden", message || `${channel} is not granted`, channel);
  }
}

/** Terminal: the gateway closed with a code that retrying cannot fix (4400: code `bad_frame`;
 * 4003: code `forbidden`). `closeCode` is the WebSocket close code. */
export class ProtocolError extends Sock8Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {number} closeCode
   */
  constructor(code, message, closeCode) {
    super(code, message);
    /** @type {number} */
    this.closeCode = closeCode;
  }
}

/** The connection dropped before the gateway answered (code `connection_lost`); the client
 * reconnects by itself. */
export class ConnectionLost extends Sock8Error {
  /** @param {string} [message] */
  constructor(message = "the connection to the gateway was lost") {
    super("connection_lost", message);
  }
}

/** The gateway did not answer a request in time (code `timeout`). */
export class RequestTimeout extends Sock8Error {
  /** @param {string} message */
  constructor(message) {
    super("timeout", message);
  }
}

/** The client is closed (code `closed`): by `close()`, or for good after a terminal error. */
export class ClientClosed extends Sock8Error {
  /** @param {string} [message] */
  constructor(message = "the client is closed") {
    super("closed", message);
  }
}

// Channel ids (docs/spec.md §1), byte for byte as the Rust core renders them.

const STATIC_SEGMENT = /^[A-Za-z0-9_-]{1,64}$/;
const PARAMETER_SEGMENT = /^\{([A-Za-z_][A-Za-z0-9_]{0,63})\}$/;
const UNRESERVED = /^[A-Za-z0-9_~-]$/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const MAX_TEMPLATE_BYTES = 1071;
const MAX_SEGMENTS = 16;
const MAX_ID_BYTES = 512;
const encoder = new TextEncoder();

/**
 * @param {string} value
 * @returns {string}
 */
function escapeValue(value) {
  let out = "";
  for (const byte of encoder.encode(value)) {
    const char = String.fromCharCode(byte);
    out += UNRESERVED.test(char) ? char : "%" + byte.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

/**
 * The wire id of a channel: `template` with each `{name}` replaced by its value from `params`,
 * escaped. `channelId("chat.{roomId}.messages", { roomId: "r 1" })` is
 * `"chat.r%201##roomId.messages"`.
 *
 * @param {string} template
 * @param {Record<string, string | number | bigint>} [params]
 * @returns {string}
 * @throws {ChannelError} a bad template, a missing, extra, empty or mistyped value, an id over
 *   512 bytes
 */
export function channelId(template, params = {}) {
  if (typeof template !== "string") throw new ChannelError("the template must be a string");
  if (template === "") throw new ChannelError("the template is empty");
  if (template.length > MAX_TEMPLATE_BYTES) {
    throw new ChannelError(`the template is over ${MAX_TEMPLATE_BYTES} bytes`);
  }
  if (params === null || typeof params !== "object") {
    throw new ChannelError("params must be an object of parameter values");
  }
  const segments = template.split(".");
  if (segments.length > MAX_SEGMENTS) {
    throw new ChannelError(`the template has more than ${MAX_SEGMENTS} segments`);
  }
  const given = new Set(Object.keys(params));
  /** @type {Set<string>} */
  const names = new Set();
  const out = [];
  for (const segment of segments) {
    if (segment === "") throw new ChannelError("the template has an empty segment");
    const parameter = PARAMETER_SEGMENT.exec(segment);
    if (parameter === null) {
      if (!STATIC_SEGMENT.test(segment)) {
        throw new ChannelError(`invalid template segment ${JSON.stringify(segment)}`, segment);
      }
      out.push(segment);
      continue;
    }
    const name = parameter[1];
    if (names.has(name)) throw new ChannelError(`duplicate parameter ${name}`, name);
    names.add(name);
    out.push(name); // rendered below, once the template is known to be valid
  }
  let i = 0;
  for (const segment of segments) {
    const parameter = PARAMETER_SEGMENT.exec(segment);
    if (parameter !== null) {
      const name = parameter[1];
      if (!given.has(name)) throw new ChannelError(`missing value for ${name}`, name);
      out[i] = escapeValue(valueText(name, params[name])) + "##" + name;
    }
    i += 1;
  }
  for (const name of given) {
    if (!names.has(name)) throw new ChannelError(`unexpected value for ${name}`, name);
  }
  const id = out.join(".");
  if (encoder.encode(id).length > MAX_ID_BYTES) {
    throw new ChannelError(`the channel id is over ${MAX_ID_BYTES} bytes`);
  }
  return id;
}

/**
 * @param {string} name
 * @param {unknown} value
 * @returns {string}
 */
function valueText(name, value) {
  let text;
  if (typeof value === "string") text = value;
  else if (typeof value === "bigint") text = value.toString();
  else if (typeof value === "number" && Number.isSafeInteger(value)) text = String(value);
  else {
    const what = typeof value === "number" ? "a number that is not a safe integer" : typeof value;
    throw new ChannelError(`the value of ${name} must be a string or an integer, not ${what}`, name);
  }
  if (text === "") throw new ChannelError(`the value of ${name} is empty`, name);
  if (LONE_SURROGATE.test(text)) {
    throw new ChannelError(`the value of ${name} holds a lone surrogate`, name);
  }
  return text;
}

// Policies, exported for tests and for apps that want to show them.

/** @typedef {{ base?: number, cap?: number, factor?: number, resetAfter?: number }} BackoffOptions */

/** Reconnect delays, in seconds: capped exponential backoff with full jitter. */
export const DEFAULT_BACKOFF = Object.freeze({ base: 0.5, cap: 20, factor: 2, resetAfter: 60 });

/**
 * The delay before reconnect attempt `attempt` (from 0), in seconds: a uniformly random value
 * in `[0, min(cap, base * factor ** attempt))` ("full jitter": clients that lost the same
 * gateway come back spread out, not in waves).
 *
 * @param {number} attempt
 * @param {BackoffOptions} [options]
 * @param {() => number} [random] a value in [0, 1)
 * @returns {number}
 */
export function backoffDelay(attempt, options = {}, random = Math.random) {
  const { base, cap, factor } = { ...DEFAULT_BACKOFF, ...options };
  const ceiling = Math.min(cap, base * Math.pow(factor, Math.max(0, attempt)));
  return random() * (Number.isFinite(ceiling) ? ceiling : cap);
}

/**
 * What the client does after the connection closed with `code`:
 * `"token"`: fetch a new token once, then reconnect (4001);
 * `"stop"`: close for good (4400 a client bug, 4003 refused by policy);
 * `"reconnect"`: reconnect with backoff (1006, 1012, 4008, 1011 and every other code).
 *
 * @param {number} code
 * @returns {"token" | "stop" | "reconnect"}
 */
export function closePolicy(code) {
  if (code === 4001) return "token";
  if (code === 4400 || code === 4003) return "stop";
  return "reconnect";
}

/**
 * @typedef {{ data: Record<string, unknown>, lastSeen: number, isConnected: boolean }} Member
 */

/**
 * A copy of `value` made of own properties only, on an object without prototype: presence data
 * is another client's input, and assigning its `__proto__` key would change a prototype.
 *
 * @param {unknown} value
 * @returns {Record<string, unknown>}
 */
function ownCopy(value) {
  /** @type {Record<string, unknown>} */
  const copy = Object.create(null);
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const key of Object.keys(value)) {
      Object.defineProperty(copy, key, {
        value: /** @type {Record<string, unknown>} */ (value)[key],
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
  }
  return copy;
}

/**
 * @param {unknown} entry
 * @returns {Member}
 */
function member(entry) {
  const raw = entry !== null && typeof entry === "object" ? /** @type {any} */ (entry) : {};
  const lastSeen = Object.hasOwn(raw, "lastSeen") ? raw.lastSeen : 0;
  return {
    data: ownCopy(Object.hasOwn(raw, "data") ? raw.data : null),
    lastSeen: typeof lastSeen === "number" ? lastSeen : 0,
    isConnected: Object.hasOwn(raw, "isConnected") ? raw.isConnected === true : true,
  };
}

/**
 * Apply a `presenceState` (replaces the map) or a `presenceUpdate` (its `updates` and
 * `removals` together) frame to `members`, in place; returns `members`.
 *
 * @param {Map<string, Member>} members
 * @param {Record<string, unknown>} frame
 * @returns {Map<string, Member>}
 */
export function applyPresence(members, frame) {
  if (frame.event === "presenceState") {
    members.clear();
    const state = frame.state;
    if (state !== null && typeof state === "object") {
      for (const identity of Object.keys(state)) {
        members.set(identity, member(/** @type {any} */ (state)[identity]));
      }
    }
  } else if (frame.event === "presenceUpdate") {
    const updates = frame.updates;
    if (updates !== null && typeof updates === "object") {
      for (const identity of Object.keys(updates)) {
        members.set(identity, member(/** @type {any} */ (updates)[identity]));
      }
    }
    if (Array.isArray(frame.removals)) {
      for (const identity of frame.removals) {
        if (typeof identity === "string") members.delete(identity);
      }
    }
  }
  return members;
}

// Events

/** @typedef {(...args: any[]) => void} Listener */

class Emitter {
  /** @type {Map<string, Set<Listener>>} */
  #listeners = new Map();

  /**
   * Call `listener` on every `event`; returns a function that removes it.
   * @param {string} event
   * @param {Listener} listener
   * @returns {() => void}
   */
  on(event, listener) {
    if (typeof listener !== "function") throw new TypeError("listener must be a function");
    let set = this.#listeners.get(event);
    if (set === undefined) this.#listeners.set(event, (set = new Set()));
    set.add(listener);
    this.listenersChanged(event);
    return () => this.off(event, listener);
  }

  /**
   * Stop calling `listener` on `event`.
   * @param {string} event
   * @param {Listener} listener
   */
  off(event, listener) {
    this.#listeners.get(event)?.delete(listener);
  }

  /**
   * @param {string} event
   * @returns {number}
   */
  listenerCount(event) {
    return this.#listeners.get(event)?.size ?? 0;
  }

  /**
   * @param {string} event
   * @param {...unknown} args
   */
  emit(event, ...args) {
    for (const listener of [...(this.#listeners.get(event) ?? [])]) {
      try {
        listener(...args);
      } catch (error) {
        // The app's bug must not break the connection; the browser still reports it.
        const report = /** @type {any} */ (globalThis).reportError;
        if (typeof report === "function") report(error);
        else console.error(error);
      }
    }
  }

  /**
   * Subclasses react to a new listener.
   * @param {string} _event
   */
  listenersChanged(_event) {}
}

// Helpers

/**
 * @param {unknown} raw
 * @returns {Record<string, any> | null}
 */
function decode(raw) {
  if (typeof raw !== "string") return null;
  try {
    const frame = JSON.parse(raw);
    return frame !== null && typeof frame === "object" && !Array.isArray(frame) ? frame : null;
  } catch {
    return null;
  }
}

/**
 * `exp - iat` of a token, read (not verified: the gateway does that) to schedule refreshes on
 * this client's clock whatever the skew between it and the server's.
 *
 * @param {string} token
 * @returns {number | null} seconds
 */
function tokenLifetime(token) {
  try {
    const segment = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(segment + "=".repeat((4 - (segment.length % 4)) % 4)));
    const lifetime = claims.exp - claims.iat;
    return typeof lifetime === "number" && lifetime > 0 ? lifetime : null;
  } catch {
    return null;
  }
}

/**
 * Whether every key of `wanted` has the same JSON value in `data`.
 * @param {Record<string, unknown>} wanted
 * @param {Record<string, unknown>} data
 */
function contains(wanted, data) {
  return Object.keys(wanted).every(
    (key) => Object.hasOwn(data, key) && JSON.stringify(data[key]) === JSON.stringify(wanted[key]),
  );
}

/**
 * A promise whose rejection is not reported as unhandled when the caller ignores it: the
 * client reports the failure as an `error` event instead.
 * @template T
 * @param {Promise<T>} promise
 * @returns {Promise<T>}
 */
function quiet(promise) {
  promise.catch(() => {});
  return promise;
}

/**
 * @typedef {object} Clock
 * @property {() => number} now epoch milliseconds
 * @property {(callback: () => void, ms: number) => unknown} setTimeout
 * @property {(handle: unknown) => void} clearTimeout
 */

/** @type {Clock} */
const SYSTEM_CLOCK = {
  now: () => Date.now(),
  // Looked up at each call, so that test tools that replace the timers are honoured.
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(/** @type {any} */ (handle)),
};

/**
 * @typedef {object} Token
 * @property {string} token
 * @property {string} endpoint
 * @property {string} identity
 * @property {string[]} channels
 * @property {number} expiresAt
 * @property {number} refreshAt epoch ms on the client's clock
 */

/**
 * @typedef {object} Pending
 * @property {string} kind
 * @property {string | null} channel
 * @property {(frame: Record<string, any>) => void} resolve
 * @property {(error: Error) => void} reject
 * @property {Record<string, unknown>} [data]
 * @property {unknown} timer
 */

/**
 * @typedef {object} Outcome
 * @property {number | null} code
 * @property {string} reason
 * @property {boolean} welcomed
 * @property {number} uptime ms
 * @property {Sock8Error | null} error
 */

/**
 * @typedef {object} ClientOptions
 * @property {string} authUrl where the app mounted `with_sock8` (relative to the page, or absolute)
 * @property {RequestInit | (() => RequestInit | Promise<RequestInit>)} [fetchOptions]
 * @property {number} [refreshBefore] seconds before `exp` to refresh (default 30, at most half the lifetime)
 * @property {BackoffOptions} [backoff]
 * @property {number} [requestTimeout] seconds (default 10)
 * @property {number} [openTimeout] seconds (default 10)
 * @property {boolean} [allowInsecureEndpoint]
 * @property {Clock} [clock]
 * @property {() => number} [random]
 * @property {typeof WebSocket} [WebSocket]
 * @property {typeof fetch} [fetch]
 * @property {EventTarget | null} [networkEventTarget]
 * @property {() => boolean} [isOnline]
 */

/** @typedef {"connecting" | "connected" | "disconnected" | "closed"} State */

/**
 * `{ offset, epoch }` from the gateway as `[offset, epoch]`; `null` when malformed.
 * @param {unknown} value
 * @returns {[number, string] | null}
 */
function parsePosition(value) {
  if (value === null || typeof value !== "object") return null;
  const { offset, epoch } = /** @type {Record<string, unknown>} */ (value);
  if (!Number.isSafeInteger(offset) || /** @type {number} */ (offset) < 0 || typeof epoch !== "string") return null;
  return [/** @type {number} */ (offset), epoch];
}

/**
 * A channel of a `Sock8Client`: its messages, presence and history. Get one with
 * `client.channel(id)`; events: `message` (payload, meta), `presence` (members), `error`,
 * `reset` ({ channel, offset, epoch }): after a reconnect, the gateway could not give back every
 * message missed on this channel (reload its state, e.g. from `history()`).
 */
export class Channel extends Emitter {
  /** @type {Sock8Client} */
  #client;
  /** @type {Map<string, Member> | null} */
  #members = null;

  /**
   * @param {Sock8Client} client
   * @param {string} id
   */
  constructor(client, id) {
    super();
    this.#client = client;
    /** @type {string} */
    this.id = id;
    this.presence = Object.freeze({
      /**
       * Merge `data` into this client's presence on the channel; resolves when the gateway
       * applied it, rejects with the error frame's `code`.
       * @param {Record<string, unknown>} data
       * @returns {Promise<void>}
       */
      set: (data) => this.#client._setPresence(this.id, data),
      /**
       * The channel's members now.
       * @returns {Promise<Map<string, Member>>}
       */
      get: () => this.#client._getPresence(this.id),
    });
  }

  /** The last known members (identity → entry); `null` before the first presence frame. */
  get members() {
    return this.#members === null ? null : new Map(this.#members);
  }

  /**
   * A page of stored messages, newest first, read through the app's auth route.
   * @param {{ limit?: number, cursor?: string | null }} [options]
   * @returns {Promise<{ messages: { timestamp: number, payload: unknown }[], nextCursor: string | null }>}
   */
  history(options = {}) {
    return this.#client._history(this.id, options);
  }

  /**
   * Start deliveries again after `unsubscribe()`; kept across reconnects.
   * @returns {Promise<void>}
   */
  subscribe() {
    return quiet(this.#client._subscribe(this.id, true));
  }

  /**
   * Stop deliveries (and leave presence); kept across reconnects until `subscribe()`.
   * @returns {Promise<void>}
   */
  unsubscribe() {
    return quiet(this.#client._subscribe(this.id, false));
  }

  /** @param {string} event */
  listenersChanged(event) {
    if (event === "presence") this.#client._presenceWanted(this.id);
  }

  /**
   * @param {Record<string, any>} frame
   * @internal
   */
  _presenceFrame(frame) {
    this.#members = applyPresence(this.#members ?? new Map(), frame);
    this.emit("presence", new Map(this.#members));
  }
}

/**
 * The sock8 browser client: one WebSocket to the gateway, tokens from the app's auth route.
 * Events: `state` (state, info), `error` (Sock8Error), `message` (payload, meta) for every
 * channel, `channels` (ids) after each welcome and refresh.
 */
export class Sock8Client extends Emitter {
  #authUrl;
  #fetchOptions;
  #refreshBefore;
  #backoff;
  #requestTimeout;
  #openTimeout;
  #allowInsecure;
  #clock;
  #random;
  #WebSocket;
  #fetch;
  #network;
  #isOnline;

  /** @type {State} */
  #state = "disconnected";
  /** @type {Sock8Error | null} */
  #error = null;
  #running = false;
  #closing = false;
  /** @type {WebSocket | null} */
  #ws = null;
  /** @type {Token | null} */
  #token = null;
  /** @type {string | null} */
  #identity = null;
  /** @type {string[]} */
  #channels = [];
  /** @type {number | null} */
  #expiresAt = null;
  /** @type {Map<string, Channel>} */
  #handles = new Map();
  /** @type {Set<string>} */
  #unsubscribed = new Set();
  /** Last [offset, epoch] received of each channel with history: resumed from on reconnect.
   * @type {Map<string, [number, string]>} */
  #positions = new Map();
  /** Channels resumed with `since` on this connection, until the gateway's answer.
   * @type {Set<string>} */
  #recovering = new Set();
  /** @type {Map<string, Record<string, unknown>>} */
  #presence = new Map();
  /** @type {Pending[]} */
  #pending = [];
  /** @type {Record<string, any> | null} */
  #lastError = null;
  /** @type {(() => void) | null} */
  #wake = null;
  /** @type {unknown} */
  #refreshTimer = null;
  #refreshFailures = 0;
  /** @type {Promise<void> | null} */
  #refreshing = null;
  /** @type {Array<{ resolve: () => void, reject: (error: Error) => void }>} */
  #connectWaiters = [];
  #onOnline = () => this.#online();
  #onOffline = () => this.#offline();

  /** @param {ClientOptions} options */
  constructor(options) {
    super();
    if (options === null || typeof options !== "object" || typeof options.authUrl !== "string") {
      throw new TypeError("new Sock8Client({ authUrl }) needs the URL where with_sock8 is mounted");
    }
    const base = /** @type {any} */ (globalThis).location?.href;
    this.#authUrl = new URL(options.authUrl, base).href.replace(/\/+$/, "");
    this.#fetchOptions = options.fetchOptions ?? {};
    this.#refreshBefore = options.refreshBefore ?? 30;
    this.#backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.#requestTimeout = (options.requestTimeout ?? 10) * 1000;
    this.#openTimeout = (options.openTimeout ?? 10) * 1000;
    this.#allowInsecure = options.allowInsecureEndpoint ?? false;
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    this.#random = options.random ?? Math.random;
    this.#WebSocket = options.WebSocket ?? globalThis.WebSocket;
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    const target = options.networkEventTarget;
    this.#network =
      target === undefined ? (typeof globalThis.addEventListener === "function" ? globalThis : null) : target;
    this.#isOnline = options.isOnline ?? (() => globalThis.navigator?.onLine !== false);
  }

  /** `"connecting"`, `"connected"`, `"disconnected"` (waiting to reconnect) or `"closed"` (for good). */
  get state() {
    return this.#state;
  }

  /** The error that closed the client for good, if any. */
  get error() {
    return this.#error;
  }

  /** The identity the gateway welcomed; `null` before the first welcome. */
  get identity() {
    return this.#identity;
  }

  /** The channels the current token grants. */
  get channels() {
    return [...this.#channels];
  }

  /** The current token's `exp`, epoch seconds. */
  get expiresAt() {
    return this.#expiresAt;
  }

  /** The auth route's URL, absolute. */
  get authUrl() {
    return this.#authUrl;
  }

  /**
   * Connect (and stay connected: reconnects are automatic). Resolves when connected; rejects
   * only when the client closes for good (the auth route said 401, `close()`, ...).
   * @returns {Promise<void>}
   */
  connect() {
    if (this.#state === "closed") return Promise.reject(this.#error ?? new ClientClosed());
    if (this.#state === "connected") return Promise.resolve();
    const waiting = new Promise((resolve, reject) => {
      this.#connectWaiters.push({ resolve: () => resolve(undefined), reject });
    });
    if (!this.#running) {
      this.#running = true;
      this.#network?.addEventListener("online", this.#onOnline);
      this.#network?.addEventListener("offline", this.#onOffline);
      this.#run().catch((error) => {
        this.#finish(new Sock8Error("internal", `the connection loop failed: ${error}`));
      });
    }
    return /** @type {Promise<void>} */ (waiting);
  }

  /** Close the connection and stop for good; idempotent. */
  close() {
    this.#closing = true;
    this.#finish(null);
  }

  /**
   * The channel `id` (a wire id, see `channelId`); the same object for the same id.
   * @param {string} id
   * @returns {Channel}
   */
  channel(id) {
    if (typeof id !== "string" || id === "") throw new TypeError("channel(id) needs a wire id");
    let handle = this.#handles.get(id);
    if (handle === undefined) this.#handles.set(id, (handle = new Channel(this, id)));
    return handle;
  }

  /**
   * Fetch a new token and swap it in on the live connection now (it happens by itself before
   * `exp`). Rejects with `Unauthorized` (the client then closes) when the app refuses.
   * @returns {Promise<void>}
   */
  refresh() {
    return this.#refreshNow();
  }

  // Requests (used by Channel)

  /**
   * @param {string} channel
   * @param {Record<string, unknown>} data
   * @returns {Promise<void>}
   * @internal
   */
  async _setPresence(channel, data) {
    if (data === null || typeof data !== "object" || Array.isArray(data)) {
      throw new TypeError("presence data must be an object");
    }
    const copy = ownCopy(JSON.parse(JSON.stringify(data)));
    await this.#request("setPresence", channel, { event: "setPresence", channel, data: copy }, copy);
    // Kept merged to restore it after a reconnect: a null-prototype target takes even a
    // "__proto__" key as an own property.
    this.#presence.set(channel, Object.assign(this.#presence.get(channel) ?? ownCopy(null), copy));
  }

  /**
   * @param {string} channel
   * @returns {Promise<Map<string, Member>>}
   * @internal
   */
  async _getPresence(channel) {
    const frame = await this.#request("getPresence", channel, { event: "getPresence", channel });
    return applyPresence(new Map(), frame);
  }

  /**
   * @param {string} channel
   * @internal
   */
  _presenceWanted(channel) {
    if (this.#state === "connected") this.#askPresence(channel);
  }

  /**
   * @param {string} channel
   * @param {boolean} on
   * @returns {Promise<void>}
   * @internal
   */
  async _subscribe(channel, on) {
    if (on) this.#unsubscribed.delete(channel);
    else {
      this.#unsubscribed.add(channel);
      this.#presence.delete(channel);
      // What is published while unsubscribed is not wanted: no resuming from here.
      this.#positions.delete(channel);
    }
    if (this.#state !== "connected") return; // applied on the next welcome
    const kind = on ? "subscribe" : "unsubscribe";
    try {
      await this.#request(kind, channel, { event: kind, channel });
    } catch (error) {
      this.#report(/** @type {Sock8Error} */ (error), channel);
      throw error;
    }
  }

  /**
   * @param {string} channel
   * @param {{ limit?: number, cursor?: string | null }} options
   * @internal
   */
  async _history(channel, { limit, cursor } = {}) {
    const url = new URL(`${this.#authUrl}/${encodeURIComponent(channel)}/history`);
    if (limit !== undefined) url.searchParams.set("limit", String(limit));
    if (cursor) url.searchParams.set("cursor", cursor);
    const response = await this.#call("GET", url.href);
    if (response.status === 401 || response.status === 403) {
      throw new Forbidden(channel, `the app refused the history of ${channel}`);
    }
    if (response.status === 400) {
      const body = await response.json().catch(() => ({}));
      throw new RequestRefused("bad_request", body.detail ?? "bad history query", channel);
    }
    if (response.status !== 200) {
      throw new AuthError(`history of ${channel}: HTTP ${response.status}`, {
        status: response.status,
        retryable: response.status >= 500,
      });
    }
    const body = await response.json().catch(() => null);
    if (body === null || !Array.isArray(body.messages)) {
      throw new AuthError(`history of ${channel}: malformed answer`, { status: 200 });
    }
    return {
      messages: body.messages.map((/** @type {any} */ item) => ({ timestamp: item.timestamp, payload: item.payload })),
      nextCursor: typeof body.nextCursor === "string" ? body.nextCursor : null,
    };
  }

  // The connection loop

  async #run() {
    let attempt = 0;
    let retriedRefusal = false;
    while (!this.#closing) {
      if (!this.#isOnline()) {
        this.#setState("disconnected", { reason: "offline" });
        await this.#pause(null);
        attempt = 0;
        continue;
      }
      this.#setState("connecting", {});
      const outcome = await this.#attempt();
      if (this.#closing) return;
      if (outcome.welcomed) retriedRefusal = false;
      let terminal = outcome.error;
      const detail = this.#lastError ? `${this.#lastError.code}: ${this.#lastError.message ?? ""}` : outcome.reason;
      const policy = outcome.code === null ? "reconnect" : closePolicy(outcome.code);
      if (terminal === null && policy === "token") {
        if (retriedRefusal) {
          terminal = new Unauthorized(`the gateway refused a fresh token: ${detail}`);
        } else {
          // Expired or refused: fetch a new token once, right away.
          retriedRefusal = true;
          this.#token = null;
          continue;
        }
      }
      if (terminal === null && policy === "stop") {
        const code = outcome.code === 4400 ? "bad_frame" : "forbidden";
        terminal = new ProtocolError(code, `the gateway closed with ${outcome.code}: ${detail}`, /** @type {number} */ (outcome.code));
      }
      if (terminal !== null) {
        this.#finish(terminal);
        return;
      }
      if (outcome.welcomed && outcome.uptime >= this.#backoff.resetAfter * 1000) attempt = 0;
      const delay = backoffDelay(attempt, this.#backoff, this.#random);
      attempt += 1;
      this.#setState("disconnected", { reason: outcome.reason, code: outcome.code, retryIn: delay });
      if (await this.#pause(delay * 1000)) attempt = 0; // woken by `online`: start over
    }
  }

  /**
   * Wait `ms` (or until woken when `null`); resolves `true` when woken early.
   * @param {number | null} ms
   * @returns {Promise<boolean>}
   */
  #pause(ms) {
    return new Promise((resolve) => {
      /** @type {unknown} */
      let timer = null;
      this.#wake = () => {
        this.#wake = null;
        if (timer !== null) this.#clock.clearTimeout(timer);
        resolve(true);
      };
      if (ms !== null) {
        timer = this.#clock.setTimeout(() => {
          this.#wake = null;
          resolve(false);
        }, ms);
      }
    });
  }

  #online() {
    if (this.#wake !== null) this.#wake();
  }

  #offline() {
    // The socket is as good as dead; close it now and wait for `online` before retrying.
    const ws = this.#ws;
    if (ws !== null) ws.close(1000, "offline");
  }

  /** @returns {Promise<Outcome>} */
  async #attempt() {
    /** @type {Outcome} */
    const outcome = { code: null, reason: "", welcomed: false, uptime: 0, error: null };
    this.#lastError = null;
    /** @type {Token} */
    let token;
    try {
      token = await this.#currentToken();
    } catch (error) {
      if (error instanceof AuthError && error.retryable) outcome.reason = error.message;
      else outcome.error = /** @type {Sock8Error} */ (error);
      return outcome;
    }
    if (this.#closing) return outcome;
    return new Promise((resolve) => {
      /** @type {WebSocket} */
      let ws;
      try {
        ws = new this.#WebSocket(token.endpoint);
      } catch (error) {
        outcome.error = new AuthError(`the auth route returned a bad endpoint: ${error}`);
        resolve(outcome);
        return;
      }
      this.#ws = ws;
      let connectedAt = 0;
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        this.#clock.clearTimeout(timer);
        ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
        if (this.#ws === ws) this.#ws = null;
        this.#stopRefresh();
        this.#failAll(new ConnectionLost());
        if (outcome.welcomed) outcome.uptime = this.#clock.now() - connectedAt;
        resolve(outcome);
      };
      const timer = this.#clock.setTimeout(() => {
        outcome.reason = "no welcome from the gateway";
        ws.close();
        finish();
      }, this.#openTimeout);
      ws.onopen = () => ws.send(JSON.stringify({ event: "auth", token: token.token }));
      ws.onmessage = (event) => {
        const frame = decode(event.data);
        if (frame === null) return;
        if (!outcome.welcomed && frame.event === "welcome") {
          outcome.welcomed = true;
          connectedAt = this.#clock.now();
          this.#clock.clearTimeout(timer);
          this.#welcome(ws, frame, token);
        } else {
          this.#dispatch(frame);
        }
      };
      ws.onclose = (event) => {
        outcome.code = event.code;
        outcome.reason = `close code ${event.code}${event.reason ? " " + event.reason : ""}`;
        finish();
      };
    });
  }

  /**
   * @param {WebSocket} ws
   * @param {Record<string, any>} frame
   * @param {Token} token
   */
  #welcome(ws, frame, token) {
    this.#accept(frame, token);
    // Restored before the state says connected: the app's own requests then follow them.
    for (const channel of this.#unsubscribed) {
      if (this.#channels.includes(channel)) ws.send(JSON.stringify({ event: "unsubscribe", channel }));
    }
    // Channels with history resume from the last message received; the others start from
    // where the welcome says they stand.
    this.#recovering.clear();
    const positions = frame.positions !== null && typeof frame.positions === "object" ? frame.positions : {};
    for (const [channel, value] of Object.entries(positions)) {
      const position = parsePosition(value);
      if (position === null || this.#unsubscribed.has(channel)) continue;
      const last = this.#positions.get(channel);
      if (last === undefined) this.#positions.set(channel, position);
      else {
        this.#recovering.add(channel);
        ws.send(JSON.stringify({ event: "subscribe", channel, since: { offset: last[0], epoch: last[1] } }));
      }
    }
    if (this.#recovering.size > 0) {
      // The gateway sends one rate_limited notice for several refused requests: a resume it
      // never answers must not hold its channel's messages back.
      this.#clock.setTimeout(() => {
        if (this.#ws === ws) this.#giveUpResuming(null);
      }, this.#requestTimeout);
    }
    for (const [channel, data] of this.#presence) {
      ws.send(JSON.stringify({ event: "setPresence", channel, data }));
    }
    this.#setState("connected", {});
    this.emit("channels", this.channels);
    for (const [id, handle] of this.#handles) {
      if (handle.listenerCount("presence") > 0) this.#askPresence(id);
    }
    for (const waiter of this.#connectWaiters.splice(0)) waiter.resolve();
    this.#scheduleRefresh();
  }

  /**
   * @param {Record<string, any>} frame welcome or refreshed
   * @param {Token} token
   */
  #accept(frame, token) {
    if (typeof frame.identity === "string") this.#identity = frame.identity;
    else if (this.#identity === null) this.#identity = token.identity;
    this.#channels = Array.isArray(frame.channels) ? frame.channels.map(String) : [...token.channels];
    this.#expiresAt = typeof frame.expiresAt === "number" ? frame.expiresAt : token.expiresAt;
    for (const channel of [...this.#presence.keys()]) {
      if (!this.#channels.includes(channel)) this.#presence.delete(channel);
    }
    for (const channel of [...this.#positions.keys()]) {
      if (!this.#channels.includes(channel)) this.#positions.delete(channel);
    }
  }

  /**
   * Whether a message with history is new (not a duplicate, nor one a recovery under way
   * gives again); records its position.
   * @param {string} channel
   * @param {number} offset
   * @param {string} epoch
   */
  #fresh(channel, offset, epoch) {
    if (this.#recovering.has(channel)) return false;
    const last = this.#positions.get(channel);
    if (last !== undefined && last[1] === epoch && offset <= last[0]) return false;
    this.#positions.set(channel, [offset, epoch]);
    return true;
  }

  /**
   * The answer to a resuming subscribe (or a node's own report of lost messages).
   * @param {string} channel
   * @param {Record<string, any>} frame
   */
  #resumed(channel, frame) {
    this.#recovering.delete(channel);
    const position = parsePosition(frame);
    if (position === null || frame.recovered === true) return; // the missed messages follow
    this.#positions.set(channel, position);
    this.#handles.get(channel)?.emit("reset", { channel, offset: position[0], epoch: position[1] });
  }

  /**
   * Stop resuming `channel` (every channel still resuming when null): its resuming subscribe
   * was refused or never answered. Its live messages flow again and, since what was missed is
   * not known, its handle gets a `reset` at the last position this client has.
   * @param {string | null} channel
   */
  #giveUpResuming(channel) {
    const channels = channel === null ? [...this.#recovering].sort() : [channel];
    for (const name of channels) {
      if (!this.#recovering.delete(name)) continue;
      const position = this.#positions.get(name);
      if (position === undefined) continue;
      this.#handles.get(name)?.emit("reset", { channel: name, offset: position[0], epoch: position[1] });
    }
  }

  /** @param {string} channel */
  #askPresence(channel) {
    this.#request("getPresence", channel, { event: "getPresence", channel }).then(
      () => {}, // the presenceState frame itself updates the channel
      (error) => this.#report(error, channel),
    );
  }

  /** @param {Record<string, any>} frame */
  #dispatch(frame) {
    const event = frame.event;
    const channel = typeof frame.channel === "string" ? frame.channel : null;
    if (event === undefined) {
      if (channel !== null && "payload" in frame) {
        /** @type {{ channel: string, offset?: number, epoch?: string }} */
        const meta = { channel };
        if (Number.isSafeInteger(frame.offset) && typeof frame.epoch === "string") {
          if (!this.#fresh(channel, frame.offset, frame.epoch)) return;
          meta.offset = frame.offset;
          meta.epoch = frame.epoch;
        } // else no history: at most once, nothing to compare
        this.#handles.get(channel)?.emit("message", frame.payload, meta);
        this.emit("message", frame.payload, meta);
      }
    } else if (event === "subscribed") {
      if (channel !== null) {
        if ("recovered" in frame) this.#resumed(channel, frame);
        else this.#recovering.delete(channel); // a gateway that does not resume
      }
      this.#answer("subscribe", channel, frame);
    }
    else if (event === "unsubscribed") this.#answer("unsubscribe", channel, frame);
    else if (event === "refreshed") this.#answer("refresh", null, frame);
    else if (event === "presenceState") {
      this.#handles.get(channel ?? "")?._presenceFrame(frame);
      this.#answer("getPresence", channel, frame);
    } else if (event === "presenceUpdate") {
      this.#handles.get(channel ?? "")?._presenceFrame(frame);
      const own = frame.updates && this.#identity !== null && Object.hasOwn(frame.updates, this.#identity)
        ? ownCopy(frame.updates[this.#identity]?.data)
        : null;
      if (own !== null) this.#presenceApplied(channel, own);
    } else if (event === "error") this.#refused(frame, channel);
    // Other events are skipped: the server may add events without breaking clients.
  }

  /**
   * The sender's own presenceUpdate answers its setPresence requests: coalescing may have merged
   * several into one update, so it answers every request up to the last one it reflects.
   * @param {string | null} channel
   * @param {Record<string, unknown>} data
   */
  #presenceApplied(channel, data) {
    const mine = this.#pending.filter((p) => p.kind === "setPresence" && p.channel === channel);
    if (mine.length === 0) return;
    let last = 0;
    mine.forEach((p, i) => {
      if (contains(p.data ?? {}, data)) last = i;
    });
    for (const pending of mine.slice(0, last + 1)) this.#settle(pending).resolve({});
  }

  /**
   * @param {Record<string, any>} frame
   * @param {string | null} channel
   */
  #refused(frame, channel) {
    const code = typeof frame.code === "string" ? frame.code : "error";
    const message = typeof frame.message === "string" ? frame.message : "";
    // A resuming subscribe that failed (history unavailable, a rate limit).
    if (channel !== null) this.#giveUpResuming(channel);
    let pending;
    if (channel !== null) pending = this.#pending.find((p) => p.channel === channel);
    else if (code === "unauthorized" || code === "rate_limited") {
      pending = this.#pending.find((p) => p.kind === "refresh");
    }
    if (pending !== undefined) {
      const error = code === "forbidden" && channel !== null ? new Forbidden(channel, message) : new RequestRefused(code, message, channel);
      this.#settle(pending).reject(error);
    } else if (channel !== null) {
      this.#report(new RequestRefused(code, message, channel), channel);
    } else {
      // Explains the close that follows (unauthorized, expired, bad_frame, slow_consumer).
      this.#lastError = frame;
    }
  }

  /**
   * @param {string} kind
   * @param {string | null} channel
   * @param {Record<string, any>} frame
   */
  #answer(kind, channel, frame) {
    const pending = this.#pending.find((p) => p.kind === kind && p.channel === channel);
    if (pending !== undefined) this.#settle(pending).resolve(frame);
  }

  /**
   * @param {Pending} pending
   * @returns {Pending}
   */
  #settle(pending) {
    this.#pending.splice(this.#pending.indexOf(pending), 1);
    this.#clock.clearTimeout(pending.timer);
    return pending;
  }

  /**
   * Send a request on the live connection; resolves with the frame that answers it.
   * @param {string} kind
   * @param {string | null} channel
   * @param {Record<string, unknown>} frame
   * @param {Record<string, unknown>} [data]
   * @returns {Promise<Record<string, any>>}
   */
  async #request(kind, channel, frame, data) {
    await this.#live();
    const ws = /** @type {WebSocket} */ (this.#ws);
    return new Promise((resolve, reject) => {
      /** @type {Pending} */
      const pending = { kind, channel, resolve, reject, data, timer: null };
      pending.timer = this.#clock.setTimeout(() => {
        if (this.#pending.includes(pending)) {
          this.#settle(pending).reject(new RequestTimeout(`no answer to ${kind} from the gateway`));
        }
      }, this.#requestTimeout);
      this.#pending.push(pending);
      ws.send(JSON.stringify(frame));
    });
  }

  /** Wait until connected; rejects when the client closes. */
  #live() {
    if (this.#state === "connected" && this.#ws !== null) return Promise.resolve();
    if (this.#state === "closed") return Promise.reject(this.#error ?? new ClientClosed());
    if (!this.#running) return Promise.reject(new ClientClosed("not connected: call connect() first"));
    return new Promise((resolve, reject) => {
      this.#connectWaiters.push({ resolve: () => resolve(undefined), reject });
    });
  }

  /** @param {Error} error */
  #failAll(error) {
    for (const pending of this.#pending.splice(0)) {
      this.#clock.clearTimeout(pending.timer);
      pending.reject(error);
    }
  }

  /**
   * @param {Sock8Error} error
   * @param {string | null} channel
   */
  #report(error, channel) {
    if (error instanceof ConnectionLost || error instanceof ClientClosed) return;
    if (channel !== null) this.#handles.get(channel)?.emit("error", error);
    this.emit("error", error);
  }

  /**
   * @param {State} state
   * @param {Record<string, unknown>} info
   */
  #setState(state, info) {
    if (state === this.#state || this.#state === "closed") return; // closed is for good
    this.#state = state;
    this.emit("state", state, info);
  }

  /** @param {Sock8Error | null} error */
  #finish(error) {
    if (this.#state === "closed") return;
    this.#closing = true;
    if (error !== null && this.#error === null) this.#error = error;
    this.#stopRefresh();
    this.#network?.removeEventListener("online", this.#onOnline);
    this.#network?.removeEventListener("offline", this.#onOffline);
    // Its close event then ends the connection loop's attempt.
    this.#ws?.close(1000);
    this.#ws = null;
    const closed = this.#error ?? new ClientClosed();
    this.#failAll(closed);
    if (this.#wake !== null) this.#wake();
    for (const waiter of this.#connectWaiters.splice(0)) waiter.reject(closed);
    this.#setState("closed", { error: this.#error });
    if (this.#error !== null) this.emit("error", this.#error);
  }

  // Tokens

  /** @returns {Promise<Token>} */
  async #currentToken() {
    const token = this.#token;
    if (token !== null && this.#clock.now() < token.refreshAt) return token;
    return (this.#token = await this.#fetchToken());
  }

  /** @returns {Promise<Token>} */
  async #fetchToken() {
    const response = await this.#call("POST", `${this.#authUrl}/authenticate`);
    const status = response.status;
    if (status === 401 || status === 403) {
      throw new Unauthorized(`the auth route refused this client: HTTP ${status}`, status);
    }
    if (status !== 200) {
      const retryable = status === 408 || status === 429 || status >= 500;
      throw new AuthError(`the auth route answered HTTP ${status}`, { status, retryable });
    }
    const body = await response.json().catch(() => null);
    if (
      body === null ||
      typeof body.token !== "string" ||
      typeof body.endpoint !== "string" ||
      typeof body.identity !== "string" ||
      !Array.isArray(body.channels) ||
      typeof body.expiresAt !== "number"
    ) {
      throw new AuthError("the auth route answered a malformed body", { status });
    }
    const now = this.#clock.now();
    const lifetime = tokenLifetime(body.token) ?? Math.max(0, body.expiresAt - now / 1000);
    const margin = Math.min(this.#refreshBefore, lifetime / 2);
    return {
      token: body.token,
      endpoint: this.#endpoint(body.endpoint),
      identity: body.identity,
      channels: body.channels.map(String),
      expiresAt: body.expiresAt,
      refreshAt: now + (lifetime - margin) * 1000,
    };
  }

  /**
   * The gateway's WebSocket URL: `ws(s)://` as given; a relative or `http(s)://` one resolved
   * against the auth URL. An `https` auth route may not hand out a `ws://` endpoint.
   * @param {string} endpoint
   * @returns {string}
   */
  #endpoint(endpoint) {
    let url;
    try {
      url = new URL(endpoint, this.#authUrl);
    } catch {
      throw new AuthError(`the auth route returned a bad endpoint: ${endpoint.slice(0, 200)}`, { status: 200 });
    }
    if (url.protocol === "http:") url.protocol = "ws:";
    else if (url.protocol === "https:") url.protocol = "wss:";
    if (url.protocol !== "ws:" && url.protocol !== "wss:") {
      throw new AuthError(`the auth route returned an endpoint that is not a WebSocket URL: ${endpoint.slice(0, 200)}`, { status: 200 });
    }
    if (url.protocol === "ws:" && this.#authUrl.startsWith("https:") && !this.#allowInsecure) {
      throw new AuthError(
        `the auth route returned the unencrypted endpoint ${url.href}: serve the gateway over wss://`,
        { status: 200 },
      );
    }
    return url.href;
  }

  /**
   * A request to the app's routes with the app's fetch options; redirects are never followed
   * (the cookies and headers must only reach the auth route).
   * @param {string} method
   * @param {string} url
   * @returns {Promise<Response>}
   */
  async #call(method, url) {
    if (this.#state === "closed") throw this.#error ?? new ClientClosed();
    const options = typeof this.#fetchOptions === "function" ? await this.#fetchOptions() : this.#fetchOptions;
    let response;
    try {
      response = await this.#fetch(url, { credentials: "same-origin", ...options, method, redirect: "manual" });
    } catch (error) {
      throw new AuthError(`${method} ${url} failed: ${error}`, { retryable: true });
    }
    if (response.type === "opaqueredirect" || (response.status >= 300 && response.status < 400)) {
      throw new AuthError(
        `${method} ${url} answered a redirect: sock8 does not follow redirects; use the URL where with_sock8 is mounted`,
        { status: response.status || null },
      );
    }
    return response;
  }

  // Refresh

  #scheduleRefresh() {
    this.#stopRefresh();
    const token = this.#token;
    if (token === null) return;
    const delay =
      this.#refreshFailures > 0
        ? backoffDelay(this.#refreshFailures - 1, this.#backoff, this.#random) * 1000
        : Math.max(0, token.refreshAt - this.#clock.now());
    this.#refreshTimer = this.#clock.setTimeout(() => {
      this.#refreshTimer = null;
      this.#refreshNow().catch(() => {}); // reported by #refreshNow
    }, delay);
  }

  #stopRefresh() {
    if (this.#refreshTimer !== null) this.#clock.clearTimeout(this.#refreshTimer);
    this.#refreshTimer = null;
  }

  /** @returns {Promise<void>} */
  #refreshNow() {
    // One at a time: a token fetched first but sent second would be older than the current one.
    if (this.#refreshing === null) {
      this.#refreshing = this.#refreshOnce().finally(() => {
        this.#refreshing = null;
      });
    }
    return this.#refreshing;
  }

  async #refreshOnce() {
    const ws = this.#ws;
    try {
      await this.#live();
      const token = await this.#fetchToken();
      const reply = await this.#request("refresh", null, { event: "refresh", token: token.token });
      this.#token = token;
      this.#accept(reply, token);
      this.#refreshFailures = 0;
      this.emit("channels", this.channels);
    } catch (error) {
      if (error instanceof Unauthorized) {
        this.#finish(error); // the app refused: signed out
      } else if ((error instanceof AuthError && error.retryable) || error instanceof RequestTimeout ||
                 (error instanceof RequestRefused && error.code === "rate_limited")) {
        this.#refreshFailures += 1; // the token still holds until exp; try again soon
        this.#report(/** @type {Sock8Error} */ (error), null);
      } else if (error instanceof AuthError) {
        this.#finish(error);
      }
      // Refused by the gateway: it closes with 4001, and the connection loop takes over.
      throw error;
    } finally {
      if (this.#ws === ws && this.#ws !== null && this.#state === "connected") this.#scheduleRefresh();
    }
  }
}
